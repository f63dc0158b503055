"""The bundled sample studies, opened only when asked (Help ▸ Open Sample Studies, the empty store's
welcome, ``cxr-triage gui --samples``): in a session without a study store, so they are kept in
memory only, and with settings of their own, so the reader's are never overwritten."""

from __future__ import annotations

import copy
from pathlib import Path

from inference.bundled import DEMO_MODEL, SAMPLES
from viewer.core.settings import Settings
from viewer.core.wording import APP_NAME
from viewer.qt.main_window import MainWindow
from viewer.qt.session import TriageSession

SAMPLE_SETTINGS = "samples-settings.json"  # beside the reader's settings file


def sample_settings(settings: Settings) -> Settings:
    """A copy of ``settings`` (thresholds, export folder…) that saves to a file of its own."""
    copied = copy.deepcopy(settings)
    copied.path = settings.path.with_name(SAMPLE_SETTINGS)
    return copied


def open_sample_window(window: MainWindow) -> MainWindow:
    """A second window on the samples, with ``window``'s model and back end, in memory."""
    info = window.session.info
    package = info.package if info is not None else Path(window.settings.last_model or DEMO_MODEL)
    session = TriageSession(window.session.backend)  # no store: nothing is kept
    samples = MainWindow(session, sample_settings(window.settings), demo_package=window.demo_package)
    samples.setWindowTitle(f"{APP_NAME}: sample studies (in memory, not kept)")
    samples.show()
    samples.load_model(package)
    samples.open_paths([SAMPLES])
    return samples
