"""Where the viewer keeps its per-user files (settings, error log)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

APP_DIR = "cxr-triage"
HOME_ENV = "CXR_TRIAGE_HOME"  # tests and portable installs point this at their own folder


def data_dir() -> Path:
    """The user's data folder for this app; ``$CXR_TRIAGE_HOME`` overrides it."""
    override = os.environ.get(HOME_ENV)
    if override:
        return Path(override)
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / APP_DIR


def settings_path() -> Path:
    return data_dir() / "settings.json"


def log_path() -> Path:
    return data_dir() / "logs" / "cxr-triage.log"
