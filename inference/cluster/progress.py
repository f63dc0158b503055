"""Progress of a batch run on stderr: images done, images per second and the time left."""

from __future__ import annotations

import sys
import time
from typing import TextIO

STEPS = 20  # when stderr is not a terminal, one line per 5% of the images


class Throughput:
    def __init__(self, total: int, stream: TextIO | None = None) -> None:
        self.total, self.done = total, 0
        self.stream = stream or sys.stderr
        self.started = time.monotonic()
        self.interactive = self.stream.isatty()
        self._step = max(total // STEPS, 1)

    def advance(self, images: int) -> None:
        before, self.done = self.done, self.done + images
        if self.interactive:
            self.stream.write(f"\r{self.line()}")
        elif self.done // self._step != before // self._step or self.done == self.total:
            self.stream.write(self.line() + "\n")
        self.stream.flush()

    def line(self) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        rate = self.done / elapsed
        left = (self.total - self.done) / rate if rate > 0 else float("inf")
        eta = _duration(left) if left != float("inf") else "?"
        return f"Scoring: {self.done}/{self.total} images, {rate:.1f} images/s, ETA {eta}"

    def close(self) -> None:
        if self.interactive:
            self.stream.write("\n")
            self.stream.flush()


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
