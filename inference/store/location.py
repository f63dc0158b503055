"""Where the study store lives (``--db``, else ``$CXR_TRIAGE_DB``, else the user's data folder): a SQLite
file, or a ``postgresql://`` URL naming a team store on a server; and the folders kept beside it: DICOM
files retrieved by ``pull`` and received by ``listen`` (for a server store, in the data folder)."""

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


SERVER_SCHEMES = ("postgresql://", "postgres://")


def is_server_url(target: Path | str) -> bool:
    """Whether ``target`` names a PostgreSQL team store rather than a SQLite file."""
    return isinstance(target, str) and target.startswith(SERVER_SCHEMES)


def store_target(text: str) -> Path | str:
    """``--db``'s value: a ``postgresql://`` URL kept as text (a path would fold its ``//``), else a file."""
    return text if is_server_url(text) else Path(text)


def store_path(explicit: Path | str | None = None) -> Path | str:
    """The store to use: ``explicit`` (``--db``), else ``$CXR_TRIAGE_DB``, else the data folder's file;
    a file as a path, a server store as its URL."""
    if explicit:
        return store_target(str(explicit)) if isinstance(explicit, str) else explicit
    env = os.environ.get(DB_ENV)
    return store_target(env) if env else data_dir() / STORE_FILE


def beside_store(folder: str, store: Path | str | None = None) -> Path:
    """``folder`` (:data:`PULL_CACHE`, :data:`INBOX`) next to the store file :func:`store_path` picks;
    in the data folder for a server store."""
    target = store_path(store)
    return data_dir() / folder if isinstance(target, str) else target.parent / folder
