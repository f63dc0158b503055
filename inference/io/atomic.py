"""Output files that are either whole or not there: written under a temporary name in the same
folder, flushed to disk (fsync), then renamed over the final name (``os.replace``).

A write that fails (a full disk, a read-only folder, an exception in the caller's block) removes its
temporary file and leaves the previous file of that name, if any, as it was. Temporary names start
with a dot (``.worklist.json.1a2b3c4d.tmp``), so a folder scan never takes one left by a killed
process for an image.

>>> with atomic_open(folder / "worklist.csv", "w", encoding="utf-8", newline="") as f:
...     f.write(text)
>>> write_bytes_atomic(folder / "0001_x.png", data)
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

TEMPORARY_SUFFIX = ".tmp"
_BINARY = getattr(os, "O_BINARY", 0)  # Windows: no newline translation on these descriptors


def temporary_name(path: Path) -> Path:
    """A fresh hidden name beside ``path`` for its temporary file."""
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}{TEMPORARY_SUFFIX}")


@contextmanager
def atomic_paths(*paths: Path | str) -> Iterator[list[Path]]:
    """Temporary paths, one per path of ``paths``, for the block to write; when the block ends
    without an exception, each is fsynced, then all are renamed over their final names together
    (so that files that go together, the worklist's CSV and JSON, are replaced only once both are
    whole). On any failure every temporary file is removed and the exception goes on.

    Each temporary file exists (empty, created exclusively) when the block starts."""
    targets = [Path(p) for p in paths]
    temporaries: list[Path] = []
    try:
        for target in targets:
            target.parent.mkdir(parents=True, exist_ok=True)
            temporaries.append(_create(target))
        yield temporaries
        for temporary in temporaries:
            _fsync_file(temporary)
        for temporary, target in zip(temporaries, targets, strict=True):
            os.replace(temporary, target)
    except BaseException:
        for temporary in temporaries:
            with contextlib.suppress(OSError):
                temporary.unlink(missing_ok=True)
        raise
    for folder in {t.parent for t in targets}:
        _fsync_folder(folder)


@contextmanager
def atomic_path(path: Path | str) -> Iterator[Path]:
    """One temporary path for the block to write (by name: ``ds.save_as(temporary)``); see
    :func:`atomic_paths`."""
    with atomic_paths(path) as (temporary,):
        yield temporary


@contextmanager
def atomic_open(path: Path | str, mode: str = "w", **kwargs: Any) -> Iterator[IO[Any]]:
    """``open(path, mode, **kwargs)`` for writing, atomically: the file appears at ``path`` only
    once the block has ended without an exception and all of it is on disk."""
    if mode not in ("w", "wt", "wb"):
        raise ValueError(f"atomic_open writes a whole new file: mode 'w' or 'wb', not {mode!r}")
    with atomic_path(path) as temporary, open(temporary, mode, **kwargs) as f:
        yield f


def write_bytes_atomic(path: Path | str, data: bytes) -> Path:
    """Write ``data`` as the whole of ``path``, atomically; returns ``path``."""
    with atomic_open(path, "wb") as f:
        f.write(data)
    return Path(path)


def write_text_atomic(path: Path | str, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` as the whole of ``path``, atomically; returns ``path``."""
    return write_bytes_atomic(path, text.encode(encoding))


def _create(target: Path) -> Path:
    """Create an empty temporary file beside ``target`` (never an existing one, never through a
    link); its permissions are those of a new file (``0o666`` less the umask)."""
    while True:
        temporary = temporary_name(target)
        try:
            handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _BINARY, 0o666)
        except FileExistsError:
            continue
        os.close(handle)
        return temporary


def _fsync_file(path: Path) -> None:
    handle = os.open(path, os.O_RDWR | _BINARY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def _fsync_folder(folder: Path) -> None:
    """Make the renames themselves durable (POSIX); a folder that cannot be opened or synced (Windows,
    some network file systems) is left to the system."""
    if os.name != "posix":
        return
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)
