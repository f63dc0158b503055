"""``cxr-triage purge --older-than DAYS``: remove the received and retrieved files of old studies.

Only files the store knows, of studies that arrived more than DAYS ago (with ``--reviewed-only``: that
a reader reviewed), and only under the inbox (``listen``) and the PACS cache (``pull``) beside the
store. Their results, reviews and audit stay in the store, which notes when each file was removed, so
the worklist still lists the study and the viewer says the files were purged.

Each file is removed on its own (``unlink``: atomic), then the store notes it, study by study: a run
killed in between leaves files gone that the store does not yet know are gone, and the next run notes
them. Each purge (not a ``--dry-run``) is one ``purged`` audit event with counts, never a path."""

from __future__ import annotations

import argparse
import contextlib
import os
import stat
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from inference.cli.commands.common import EXIT_STOPPED, add_db_argument, parsed, with_store
from inference.store import Store, StoredImage, StoreError
from inference.store.location import INBOX, PULL_CACHE
from inference.text import terminal_safe

AUDIT_PURGED = "purged"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "purge",
        help=f"remove the received ({INBOX}/) and retrieved ({PULL_CACHE}/) files of old studies; "
        "their results, reviews and audit stay in the store",
    )
    p.add_argument(
        "--older-than",
        type=days,
        required=True,
        metavar="DAYS",
        help="studies that arrived more than DAYS ago (a number, fractions allowed)",
    )
    p.add_argument("--reviewed-only", action="store_true", help="only studies a reader has reviewed")
    p.add_argument("--dry-run", action="store_true", help="list what would be removed; remove nothing")
    add_db_argument(p)
    p.set_defaults(func=run)


def days(text: str) -> float:
    """argparse type: a number of days >= 0."""
    value = parsed(text, float, "a number of days")
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number of days >= 0, got {text}")
    return value


def now() -> datetime:
    """The clock purge measures ages by (tests move it)."""
    return datetime.now(UTC)


def run(args: argparse.Namespace) -> int:
    return with_store(args.db, lambda store: _purge(store, args))


def _purge(store: Store, args: argparse.Namespace) -> int:
    cutoff = (now() - timedelta(days=args.older_than)).isoformat(timespec="seconds")
    folders = [_real(store.path.parent / INBOX), _real(store.path.parent / PULL_CACHE)]
    by_study: dict[str, list[StoredImage]] = {}
    for image in store.purgeable(cutoff, args.reviewed_only):
        by_study.setdefault(image.entry.meta.study_uid, []).append(image)
    verb = "would remove" if args.dry_run else "removed"
    studies = files = size = 0
    failed: list[str] = []
    for study_uid, images in by_study.items():
        gone: list[str] = []  # image UIDs whose file is no longer there (removed now, or before)
        count = nbytes = 0
        for image in images:
            path = image.entry.meta.path
            if not _inside(path, folders):
                continue  # the store knows it, but it is not ours to remove (a local folder triaged)
            removed = _remove(path, args.dry_run, failed)
            if removed is None:
                continue
            gone.append(image.image_uid)
            if removed >= 0:
                count, nbytes = count + 1, nbytes + removed
        if not gone:
            continue
        if not args.dry_run:
            try:
                store.mark_purged(gone)
            except StoreError as exc:
                failed.append(str(exc))
                break
            _remove_empty_folder(images[0].entry.meta.path.parent, folders)
        studies, files, size = studies + 1, files + count, size + nbytes
        print(f"{verb} {count} files ({_size(nbytes)}): {terminal_safe(study_uid)}")
    where = terminal_safe(f"{INBOX}/ and {PULL_CACHE}/ beside {store.path}")
    print(f"{verb.capitalize()} {files} files ({_size(size)}) of {studies} studies from {where}.")
    if not args.dry_run and studies:
        try:
            store.log(AUDIT_PURGED, studies=studies, files=files, bytes=size,
                      older_than_days=args.older_than, reviewed_only=args.reviewed_only)  # fmt: skip
        except StoreError as exc:
            failed.append(str(exc))
    for reason in failed:
        print(f"cxr-triage: {terminal_safe(reason)}", file=sys.stderr)
    return EXIT_STOPPED if failed else 0


def _real(folder: Path) -> Path:
    return Path(os.path.realpath(folder))


def _inside(path: Path, folders: list[Path]) -> bool:
    """Whether ``path`` lies under one of ``folders`` once its folder's links are followed (the file
    itself may be a link: removing it leaves its target alone)."""
    where = _real(path.parent) / path.name
    return any(where != folder and where.is_relative_to(folder) for folder in folders)


def _remove(path: Path, dry_run: bool, failed: list[str]) -> int | None:
    """Remove one file: its size in bytes; -1 when it was already gone (noted as purged, not counted);
    None when it is left (not a plain file or a link, or it cannot be removed: why, in ``failed``)."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return -1
    except OSError as exc:
        failed.append(f"cannot remove {path}: {exc.strerror or exc}")
        return None
    if not (stat.S_ISREG(info.st_mode) or stat.S_ISLNK(info.st_mode)):
        return None
    if not dry_run:
        try:
            os.unlink(path)
        except FileNotFoundError:
            return -1
        except OSError as exc:
            failed.append(f"cannot remove {path}: {exc.strerror or exc}")
            return None
    return info.st_size if stat.S_ISREG(info.st_mode) else 0


def _remove_empty_folder(folder: Path, folders: list[Path]) -> None:
    """The study's folder once empty (never the inbox or cache itself)."""
    if _real(folder) in folders or not any(_real(folder).is_relative_to(f) for f in folders):
        return
    with contextlib.suppress(OSError):  # not empty (other files), or gone: left as it is
        folder.rmdir()


def _size(nbytes: int) -> str:
    units: list[tuple[float, str]] = [(1e9, "GB"), (1e6, "MB"), (1e3, "kB")]
    scale, unit = next(((s, u) for s, u in units if nbytes >= s), (1.0, "bytes"))
    return f"{nbytes} bytes" if unit == "bytes" else f"{nbytes / scale:.1f} {unit}"
