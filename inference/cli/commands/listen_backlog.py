"""What ``listen`` received while its store could not be written (a team store's server restarting, the
network down): the files stay in the inbox and are tried again with what arrives next, and every
``RETRY_S`` seconds while nothing does, until the store takes them. Nothing received is lost, and
nothing is doubled: recording an image again keeps its row, and a result already committed is reused,
not written twice."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from inference.text import terminal_safe

RETRY_S = 5.0


class Backlog:
    """The received files not yet recorded, and when to try them again; one line when the store stops
    taking files and one when it takes them again."""

    def __init__(self, inbox: Path) -> None:
        self._inbox = inbox
        self._paths: list[Path] = []
        self._retry_at = 0.0

    def __len__(self) -> int:
        return len(self._paths)

    def due(self) -> bool:
        return bool(self._paths) and time.monotonic() >= self._retry_at

    def take(self) -> list[Path]:
        """The files to try again (with the new arrivals); :meth:`settle` says how it went."""
        paths, self._paths = self._paths, []
        return paths

    def settle(self, tried: list[Path], error: str, store_failed: bool) -> None:
        """After ``tried`` was recorded and scored, or failed with ``error``: kept for later when the
        store could not take them (``store_failed``, the engine's word)."""
        down_before = self._retry_at > 0
        if store_failed:
            if not down_before:
                _say(
                    f"the store cannot be written ({error}); received files are kept in the inbox "
                    f"({self._inbox}) and recorded and scored once it can be (tried every {RETRY_S:g} s)"
                )
            self._paths = tried
            self._retry_at = time.monotonic() + RETRY_S
            return
        self._retry_at = 0.0
        if error:
            _say(f"scoring stopped: {error}")
        elif down_before and tried:
            _say(f"the store can be written again: {len(tried)} kept or new file(s) recorded")

    def say_left(self) -> None:
        """At stop: what could not be recorded stays in the inbox, and how to record it."""
        if self._paths:
            _say(
                f"{len(self._paths)} received file(s) not recorded (the store cannot be written); they "
                f"stay in {self._inbox}: `cxr-triage triage {self._inbox} --db …` records and scores them"
            )


def _say(message: str) -> None:
    print(f"cxr-triage: {terminal_safe(message)}", file=sys.stderr, flush=True)
