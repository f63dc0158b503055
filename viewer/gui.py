"""``cxr-triage gui [PATH...] [--db FILE]``: start the desktop viewer.

Composition only: settings, error log, the study store, the background session and the main window. Qt is
imported after the platform check, so a machine without the X11 libraries gets a list of
packages to install instead of a core dump.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from viewer.qpa_check import platform_problem

EXIT_NO_DISPLAY = 2
EXIT_NO_STORE = 1
log = logging.getLogger(__name__)


def _excepthook(exc_type, exc, tb) -> None:
    """Log (redacted) and carry on: a failing slot must not take the worklist down with it."""
    log.error("unhandled error in the GUI", exc_info=(exc_type, exc, tb))
    sys.__excepthook__(exc_type, exc, tb)


def main(paths: list[str] | None = None, db: Path | None = None) -> int:
    """Open the viewer on the study store ``db`` (default: the user's) and ``paths`` (files or
    folders); returns the process exit code."""
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
        _show_error(f"CXR Triage cannot open its study store.\n\n{exc}")
        return EXIT_NO_STORE
    window.show()
    if paths:
        window.open_paths([Path(p) for p in paths])
    code = int(app.exec())
    window.close()  # saves settings and joins the worker threads (a no-op if already closed)
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
    from viewer.qt.session import Backend, TriageSession

    settings = Settings.load(settings_path)
    session = TriageSession(backend or Backend(), store=open_store(store_path(db)))
    window = MainWindow(session, settings, demo_package=DEMO_MODEL)
    if load_model:
        package = Path(settings.last_model) if settings.last_model else DEMO_MODEL
        if not (package / "card.json").is_file():
            package = DEMO_MODEL
        if (package / "card.json").is_file():
            window.load_model(package)
        else:
            window.show_message("No model package found: Model ▸ Load Model Package…", 0)
    return window
