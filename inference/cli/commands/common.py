"""Arguments and checks that several commands share: the store, the output folder, counts, and how
a command that cannot finish says so."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

from inference.api import ModelCard
from inference.cli.main import EXIT_INTERRUPTED
from inference.models.card import PackageError, read_card
from inference.store import Store, StoreError, store_path, store_target
from inference.text import terminal_safe

EXIT_MISUSE = 2
# The run stopped before finishing: the store or an output folder could not be written (a full disk,
# a read-only file) or scoring failed. What was done is kept (partial worklist, store); run it again.
EXIT_STOPPED = 4
INTERRUPTED = "interrupted"  # why a scoring run stopped early, when it was Ctrl+C


T = TypeVar("T")


def add_db_argument(parser: argparse.ArgumentParser) -> None:
    store = (
        "study store: a SQLite file, or a team store postgresql://USER@HOST:PORT/DBNAME"
        " (default: $CXR_TRIAGE_DB, else studies.sqlite in the user's data folder)"
    )
    parser.add_argument("--db", type=store_target, default=None, metavar="FILE|URL", help=store)


def parsed(text: str, convert: Callable[[str], T], expected: str) -> T:
    """``convert(text)``, or argparse's error saying what was ``expected``."""
    try:
        return convert(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None


def positive_int(text: str) -> int:
    """argparse type: an integer of at least 1."""
    value = parsed(text, int, "a whole number")
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def seconds(text: str) -> float:
    """argparse type: a positive number of seconds."""
    value = parsed(text, float, "seconds")
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text}")
    return value


def minutes(text: str) -> timedelta:
    """argparse type: a non-negative number of minutes."""
    value = parsed(text, float, "minutes")
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number of minutes >= 0, got {text}")
    return timedelta(minutes=value)


def card_and_thresholds(model: Path, operating_point: str | None) -> tuple[ModelCard, dict[str, float]] | str:
    """The model's card and its thresholds at ``operating_point`` (default: the card's), or why not."""
    try:
        card = read_card(model)
    except PackageError as exc:
        return f"cannot read the model card: {exc}"
    thresholds = thresholds_or_error(card, operating_point)
    return thresholds if isinstance(thresholds, str) else (card, thresholds)


def fail(message: str) -> int:
    """Print a one-line error and return the misuse exit code."""
    print(f"cxr-triage: {message}", file=sys.stderr)
    return EXIT_MISUSE


def stop(message: str) -> int:
    """Print why a run stopped before finishing, as one line, and return :data:`EXIT_STOPPED`."""
    print(f"cxr-triage: {terminal_safe(message)}", file=sys.stderr)
    return EXIT_STOPPED


def stopped_early(stopped: str, left: str = "") -> int:
    """The one line of a scoring run that stopped because ``stopped`` (and what it ``left`` undone)."""
    return stop(f"stopped before finishing: {stopped}{left}; run again once fixed, nothing is scored twice")


def worklist_unwritten(reason: str, stopped: str) -> int:
    """The one line of a run whose worklist could not be written (``reason``), after the run's own
    reason to stop, if any: :data:`EXIT_INTERRUPTED` after Ctrl+C, else :data:`EXIT_STOPPED`."""
    before = "" if stopped in ("", INTERRUPTED) else f"stopped before finishing: {stopped}; then "
    code = stop(f"{before}{reason}")
    return EXIT_INTERRUPTED if stopped == INTERRUPTED else code


def write_failure(what: str, exc: OSError) -> str:
    """A plain reason for a failed write: ``cannot write the worklist into out: No space left on
    device`` (the system's words; no errno, no traceback)."""
    return f"cannot write {what}: {exc.strerror or exc}"


def plain_error(error: str) -> str:
    """The engine reports a failed scoring run as ``TypeName: message``; the store's errors are
    already plain sentences, so their class name is left out."""
    return error.removeprefix("StoreError: ")


class _DropWarnings(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.WARNING


@contextmanager
def engine_warnings_reported() -> Iterator[None]:
    """While a command runs, the engine's log warnings (a model that does not load, a heat map or a
    scoring run that fails) are held back: the command reports each of them itself, in one line, and
    Python would otherwise print the log's copy as a second one. Errors (bugs) still show."""
    logger = logging.getLogger("inference.runtime.engine")
    drop = _DropWarnings()
    logger.addFilter(drop)
    try:
        yield
    finally:
        logger.removeFilter(drop)


def with_store(explicit: Path | str | None, work: Callable[[Store], int]) -> int:
    """Run ``work`` on the store of ``--db`` (or the default) and close it; a store that cannot be
    opened is misuse, with its plain message."""
    try:
        store = Store(store_path(explicit))
    except StoreError as exc:
        return fail(str(exc))
    with store:
        return work(store)


def check_output_folder(folder: Path) -> str:
    """Why ``folder`` cannot take the worklist files ("" when it can): checked before any work."""
    if folder.exists() and not folder.is_dir():
        return f"--out {folder} exists and is not a folder"
    existing = next((p for p in (folder, *folder.parents) if p.exists()), None)
    if existing is None or not existing.is_dir():
        return f"--out {folder}: no folder above it can be created in"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        return f"--out {folder} is not writable ({exc.strerror or exc})"
    if not os.access(folder, os.W_OK):
        return f"--out {folder} is not writable"
    return ""


def existing_paths(paths: list[Path]) -> list[Path]:
    """The ``paths`` that exist (links included); the others are named on stderr."""
    present = [p for p in paths if os.path.lexists(p)]
    missing = [p for p in paths if p not in present]
    if missing:
        print(f"cxr-triage: not found: {', '.join(terminal_safe(str(p)) for p in missing)}", file=sys.stderr)
    return present


def thresholds_or_error(card: ModelCard, operating_point: str | None) -> dict[str, float] | str:
    """The card's thresholds at ``operating_point`` (its default when None), or why there are none."""
    try:
        return card.thresholds(operating_point)
    except KeyError as exc:
        return f"the model card cannot be used at this operating point: {exc.args[0]}"
