"""Where the viewer keeps its per-user files (settings, error log): in CXR Triage's data folder."""

from __future__ import annotations

from pathlib import Path

from inference.store.location import data_dir, settings_path

__all__ = ["data_dir", "log_path", "settings_path"]


def log_path() -> Path:
    return data_dir() / "logs" / "cxr-triage.log"
