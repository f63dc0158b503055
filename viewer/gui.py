"""``cxr-triage gui [PATH...] [--db FILE|URL] [--samples] [--smoke-screenshot PNG [--smoke-timeout S]]``:
start the desktop viewer (``--samples``: on the bundled sample studies, in memory).

Composition only: settings, error log, the study store, the background session and the main window. Qt is
imported after the platform check, so a machine without the X11 libraries gets a list of
packages to install instead of a core dump.

``--smoke-screenshot`` (installers, CI) runs the viewer as usual until it is ready, saves a picture of
the window and quits: see :class:`viewer.qt.smoke_screenshot.SmokeScreenshot`.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from viewer.core.wording import APP_NAME
from viewer.qpa_check import platform_problem

EXIT_NO_DISPLAY = 2
EXIT_NO_STORE = 1
SMOKE_LIMIT_S = 120.0
log = logging.getLogger(__name__)


def _excepthook(exc_type, exc, tb) -> None:
    """Log (redacted) and carry on: a failing slot must not take the worklist down with it."""
    log.error("unhandled error in the GUI", exc_info=(exc_type, exc, tb))
    sys.__excepthook__(exc_type, exc, tb)


def main(
    paths: list[str] | None = None,
    db: Path | str | None = None,
    smoke_screenshot: Path | None = None,
    smoke_limit_s: float = SMOKE_LIMIT_S,
    samples: bool = False,
    layout_log: Path | None = None,
) -> int:
    """Open the viewer on the study store ``db`` (default: the user's) and ``paths`` (files or
    folders); returns the process exit code. With ``samples``, on the bundled sample studies (and
    ``paths``) in memory instead: no store is opened. With ``smoke_screenshot``, the window is saved
    there as a PNG once it is ready, and the viewer quits (:mod:`viewer.qt.smoke_screenshot`). With
    ``layout_log``, the panes' sizes are written there as they change (:mod:`viewer.qt.layout_log`)."""
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
    app.setApplicationName(APP_NAME)
    app.setOrganizationName("cxr-triage")
    sys.excepthook = _excepthook
    from inference.store import StoreError
    from viewer.qt.smoke_screenshot import SmokeScreenshot, smoke_failed

    try:
        window = create_window(db=db, samples=samples)
    except StoreError as exc:
        if smoke_screenshot is None:
            _show_error(f"CXR Triage cannot open its study store.\n\n{exc}")
        else:  # no dialog for nobody to close
            smoke_failed(f"cannot open the study store: {exc}")
        return EXIT_NO_STORE
    smoke = None
    if smoke_screenshot is not None:
        if model_package(window.settings) is None:
            window.close()
            return smoke_failed("no model package found")
        smoke = SmokeScreenshot(window, Path(smoke_screenshot), smoke_limit_s, app.exit)
    if layout_log is not None:
        from viewer.qt.layout_log import LayoutLog

        LayoutLog(window, Path(layout_log))
    window.show()
    if samples:
        from inference.bundled import SAMPLES

        paths = [str(SAMPLES), *(paths or [])]
    if paths:
        window.open_paths([Path(p) for p in paths])
    code = int(app.exec())
    window.close()  # saves settings and joins the worker threads (a no-op if already closed)
    if smoke is not None and smoke.code is None:  # the window was closed by hand
        return smoke_failed("the window was closed before it was ready")
    return code


def _show_error(text: str) -> None:
    from PySide6.QtWidgets import QMessageBox

    print(f"cxr-triage: {text}", file=sys.stderr)
    QMessageBox.critical(None, APP_NAME, text)


def open_store(path: Path | str):
    """The study store at ``path``, created when missing; an existing one that cannot be opened for
    writing (a read-only file or folder) is opened read-only, and the window says so. A
    ``postgresql://`` URL opens that team store (a server that cannot be reached: a plain error).

    Raises :class:`inference.store.StoreError` when it cannot be read either.
    """
    from inference.store import Store, StoreError

    try:
        return Store(path)
    except StoreError as error:
        if isinstance(path, str) or not path.is_file():
            raise
        try:
            return Store(path, read_only=True)
        except StoreError:
            raise error from None


def create_window(
    settings_path: Path | None = None,
    backend=None,
    load_model: bool = True,
    db: Path | str | None = None,
    samples: bool = False,
):
    """The main window with its session on the study store ``db`` (see
    :func:`inference.store.store_path`); loads the last (or the bundled demo) model. With ``samples``
    (for the bundled sample studies) no store is opened and the settings are saved apart
    (:func:`viewer.qt.sample_studies.sample_settings`).

    Raises :class:`inference.store.StoreError` when the store cannot be opened.
    """
    from inference.bundled import DEMO_MODEL
    from inference.store import store_path
    from viewer.core.settings import Settings
    from viewer.qt.engine_parts import EngineParts
    from viewer.qt.main_window import MainWindow
    from viewer.qt.session import TriageSession

    settings = Settings.load(settings_path)
    if samples:
        from viewer.qt.sample_studies import sample_settings

        settings = sample_settings(settings)
    session = TriageSession(backend or EngineParts(), store=None if samples else open_store(store_path(db)))
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
