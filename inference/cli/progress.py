"""A dependency-free progress line for the terminal (stderr), quiet when not a TTY."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressBar:
    def __init__(self, total: int, label: str, stream: TextIO | None = None, width: int = 30) -> None:
        self.total, self.label, self.width = max(total, 0), label, width
        self.stream = stream or sys.stderr
        self.done = 0
        self.started = time.monotonic()
        self.interactive = self.stream.isatty()

    def advance(self, note: str = "") -> None:
        self.done += 1
        if self.interactive:
            filled = self.width * self.done // max(self.total, 1)
            rate = self.done / max(time.monotonic() - self.started, 1e-9)
            bar = "#" * filled + "-" * (self.width - filled)
            self.stream.write(f"\r{self.label} [{bar}] {self.done}/{self.total} {rate:.1f}/s {note[:40]:<40}")
        elif self.done == self.total or self.done % 50 == 0:
            self.stream.write(f"{self.label}: {self.done}/{self.total}\n")
        self.stream.flush()

    def close(self) -> None:
        if self.interactive:
            self.stream.write("\n")
            self.stream.flush()
