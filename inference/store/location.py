"""Where the study store lives (``--db``, else ``$CXR_TRIAGE_DB``, else the user's data folder), and the
folders kept beside it: DICOM files retrieved by ``pull`` and received by ``listen``."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "cxr-triage"
HOME_ENV = "CXR_TRIAGE_HOME"  # portable installs and tests point the whole data folder elsewhere
DB_ENV = "CXR_TRIAGE_DB"
STORE_FILE = "studies.sqlite"
PULL_CACHE = "pacs-cache"  # instances pull (and the viewer's PACS dialog, and batch) retrieve
INBOX = "inbox"  # files listen receives
SETTINGS_FILE = "settings.json"  # the viewer's settings; the commands read its saved PACS nodes


def data_dir() -> Path:
    """The user's data folder for CXR Triage (settings, logs, imported models, the store)."""
    override = os.environ.get(HOME_ENV)
    if override:
        return Path(override)
    return platformdirs.user_data_path(APP_NAME, appauthor=False)


def settings_path() -> Path:
    """The viewer's settings file (:mod:`viewer.core.settings` writes it, ``pull/send NODE`` read it)."""
    return data_dir() / SETTINGS_FILE


def store_path(explicit: Path | str | None = None) -> Path:
    """The store file to use: ``explicit`` (``--db``), else ``$CXR_TRIAGE_DB``, else the data folder's."""
    if explicit:
        return Path(explicit)
    env = os.environ.get(DB_ENV)
    return Path(env) if env else data_dir() / STORE_FILE


def beside_store(folder: str, store: Path | str | None = None) -> Path:
    """``folder`` (:data:`PULL_CACHE`, :data:`INBOX`) next to the store file :func:`store_path` picks."""
    return store_path(store).parent / folder
