"""``cxr-triage gui [PATH...] [--db FILE] [--smoke-screenshot PNG [--smoke-timeout SECONDS]]``: start
the desktop viewer.

Composition only: settings, error log, the study store, the background session and the main window. Qt is
imported after the platform check, so a machine without the X11 libraries gets a list of
packages to install instead of a core dump.

``--smoke-screenshot`` (installers, CI) runs the viewer as usual until it is ready, saves a picture of
the window and quits: see :class:`SmokeScreenshot`.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from viewer.qpa_check import platform_problem

EXIT_NO_DISPLAY = 2
EXIT_NO_STORE = 1
EXIT_SMOKE_FAILED = 1  # --smoke-screenshot: no model, scoring stopped, PNG not written, time limit
SMOKE_LIMIT_S = 120.0
log = logging.getLogger(__name__)


def _excepthook(exc_type, exc, tb) -> None:
    """Log (redacted) and carry on: a failing slot must not take the worklist down with it."""
    log.error("unhandled error in the GUI", exc_info=(exc_type, exc, tb))
    sys.__excepthook__(exc_type, exc, tb)


def main(
    paths: list[str] | None = None,
    db: Path | None = None,
    smoke_screenshot: Path | None = None,
    smoke_limit_s: float = SMOKE_LIMIT_S,
) -> int:
    """Open the viewer on the study store ``db`` (default: the user's) and ``paths`` (files or
    folders); returns the process exit code. With ``smoke_screenshot``, the window is saved there as a
    PNG once it is ready, and the viewer quits (:class:`SmokeScreenshot`)."""
    problem = platform_problem()
    if problem:
        print(problem, file=sys.stderr)
        return EXIT_NO_DISPLAY
    from viewer.core.errorlog import setup_error_log

    setup_error_log()
    try:
        from PySide6.QtWidgets import QApplication
    except ImportError as exc:  # a broken Qt install: say so rather than print a traceback
        print(f"cxr-triage: cannot import Qt ({exc}). Reinstall PySide6-Essentials.", file=sys.stderr)
        return EXIT_NO_DISPLAY
    app = QApplication.instance() or QApplication(sys.argv[:1])
    if app.platformName() == "":
        print("cxr-triage: Qt started without a platform plugin.", file=sys.stderr)
        return EXIT_NO_DISPLAY
    app.setApplicationName("CXR Triage")
    app.setOrganizationName("cxr-triage")
    sys.excepthook = _excepthook
    from inference.store import StoreError

    try:
        window = create_window(db=db)
    except StoreError as exc:
        if smoke_screenshot is None:
            _show_error(f"CXR Triage cannot open its study store.\n\n{exc}")
        else:  # no dialog for nobody to close
            _smoke_failed(f"cannot open the study store: {exc}")
        return EXIT_NO_STORE
    smoke = None
    if smoke_screenshot is not None:
        if model_package(window.settings) is None:
            window.close()
            return _smoke_failed("no model package found")
        smoke = SmokeScreenshot(window, Path(smoke_screenshot), smoke_limit_s, app.exit)
    window.show()
    if paths:
        window.open_paths([Path(p) for p in paths])
    code = int(app.exec())
    window.close()  # saves settings and joins the worker threads (a no-op if already closed)
    if smoke is not None and smoke.code is None:  # the window was closed by hand
        return _smoke_failed("the window was closed before it was ready")
    return code


def _show_error(text: str) -> None:
    from PySide6.QtWidgets import QMessageBox

    print(f"cxr-triage: {text}", file=sys.stderr)
    QMessageBox.critical(None, "CXR Triage", text)


def open_store(path: Path):
    """The study store at ``path``, created when missing; an existing one that cannot be opened for
    writing (a read-only file or folder) is opened read-only, and the window says so.

    Raises :class:`inference.store.StoreError` when it cannot be read either.
    """
    from inference.store import Store, StoreError

    try:
        return Store(path)
    except StoreError as error:
        if not path.is_file():
            raise
        try:
            return Store(path, read_only=True)
        except StoreError:
            raise error from None


def create_window(
    settings_path: Path | None = None, backend=None, load_model: bool = True, db: Path | None = None
):
    """The main window with its session on the study store ``db`` (see
    :func:`inference.store.store_path`); loads the last (or the bundled demo) model.

    Raises :class:`inference.store.StoreError` when the store cannot be opened.
    """
    from inference.bundled import DEMO_MODEL
    from inference.store import store_path
    from viewer.core.settings import Settings
    from viewer.qt.main_window import MainWindow
    from viewer.qt.session import EngineParts, TriageSession

    settings = Settings.load(settings_path)
    session = TriageSession(backend or EngineParts(), store=open_store(store_path(db)))
    window = MainWindow(session, settings, demo_package=DEMO_MODEL)
    if load_model:
        package = model_package(settings)
        if package is not None:
            window.load_model(package)
        else:
            window.show_message("No model package found: Model ▸ Load Model Package…", 0)
    return window


def model_package(settings) -> Path | None:
    """The model the viewer opens with: the last one loaded, else the bundled demo; None when neither
    is a package (no ``card.json``)."""
    from inference.bundled import DEMO_MODEL

    package = Path(settings.last_model) if settings.last_model else DEMO_MODEL
    if not (package / "card.json").is_file():
        package = DEMO_MODEL
    return package if (package / "card.json").is_file() else None


def _smoke_failed(reason: str) -> int:
    from inference.text import terminal_safe

    print(f"cxr-triage: smoke screenshot failed: {terminal_safe(reason)}", file=sys.stderr, flush=True)
    return EXIT_SMOKE_FAILED


class SmokeScreenshot:
    """``cxr-triage gui --smoke-screenshot PNG``: when the viewer is ready, the main window saved as PNG
    and ``done(0)``; ``done(EXIT_SMOKE_FAILED)`` after one line on stderr when the model does not load,
    a scoring job stops with an error, the PNG cannot be written, or the viewer is not ready within
    ``limit_s`` seconds (a single-shot timer).

    Ready is what the tests and ``scripts/screenshot.py`` wait for: a model loaded, the session idle
    (no indexing, no store read, no scoring job) with no study left queued or being scored, and the
    study shown (rank 1, opened by the window itself) on screen, or failed to read. Studies that could
    not be read, or were not scored (a lateral, the safety gate), are listed as they always are: not a
    failure of the viewer. Event driven: the session's signals and Qt timers, no polling.
    """

    def __init__(self, window: Any, path: Path, limit_s: float, done: Callable[[int], None]) -> None:
        from PySide6.QtCore import QTimer

        self.window = window
        self.path = path
        self.limit_s = limit_s
        self.code: int | None = None  # once finished
        self._done = done
        self._saving = False
        self._unreadable: set[str] = set()  # studies whose image could not be read for display
        session = window.session
        session.modelFailed.connect(lambda reason: self._fail(f"the model did not load: {reason}"))
        session.scoringFailed.connect(lambda reason: self._fail(f"scoring stopped: {reason}"))
        session.idle.connect(self._check)
        session.imageReady.connect(self._check)
        session.imageFailed.connect(self._image_failed)
        self._limit = QTimer(window, singleShot=True)
        self._limit.timeout.connect(self._timed_out)
        self._limit.start(round(limit_s * 1000))
        QTimer.singleShot(0, self._check)  # once the event loop runs

    def waiting_for(self) -> str:
        """What the viewer is not done with yet ("" when ready)."""
        from viewer.core.worklist import RowState

        window, session = self.window, self.window.session
        if session.info is None:
            return "the model to load"
        if session.reading_files:
            return "the files to be indexed"
        rows = session.worklist_model.worklist.rows
        left = sum(r.state in (RowState.QUEUED, RowState.SCORING) for r in rows)
        if session.busy or left:
            return f"scoring ({left} of {len(rows)} studies left)"
        row = window.current_row()
        if row is None or row.state is RowState.ERROR or row.uid in self._unreadable:
            return ""
        return "" if window.image_view.image() is not None else "the shown study's image"

    def _check(self, *_args: object) -> None:
        if self.code is not None or self._saving or self.waiting_for():
            return
        from PySide6.QtCore import QTimer

        self._saving = True
        QTimer.singleShot(0, self._save)  # after the updates queued by what made it ready

    def _image_failed(self, uid: str, _reason: str) -> None:
        self._unreadable.add(uid)
        self._check()

    def _save(self) -> None:
        from PySide6.QtCore import QBuffer, QByteArray, QIODevice

        from inference.io.atomic import write_bytes_atomic
        from viewer.core.worklist import RowState

        if self.code is not None:
            return
        data = QByteArray()
        buffer = QBuffer(data)
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        picture = self.window.grab()  # renders the window and its children as they are now
        if picture.isNull() or not picture.save(buffer, "PNG"):
            self._fail("the window could not be rendered")
            return
        try:
            write_bytes_atomic(self.path, bytes(data.data()))
        except OSError as exc:
            self._fail(f"cannot write {self.path}: {exc.strerror or exc}")
            return
        rows = self.window.session.worklist_model.worklist.rows
        scored = sum(r.state is RowState.SCORED for r in rows)
        print(f"Screenshot saved to {self.path} ({len(rows)} studies, {scored} scored).", flush=True)
        self._finish(0)

    def _timed_out(self) -> None:
        self._fail(
            f"not ready after {self.limit_s:g} s: waiting for {self.waiting_for() or 'the screenshot'}"
        )

    def _fail(self, reason: str) -> None:
        if self.code is None:
            self._finish(_smoke_failed(reason))

    def _finish(self, code: int) -> None:
        self.code = code
        self._limit.stop()
        self._done(code)
