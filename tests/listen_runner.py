"""``cxr-triage listen`` (or any command that says "Listening" once it is ready) in a subprocess, as a
service runs it: its output lines on a queue, stopped with SIGTERM and killed if it will not stop. The
PACS tests and the team-store tests give it their command."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Callable

WAIT_S = 120.0  # bound on every wait for the listener (never a timing assertion)


class ListenRunner:
    """The process of ``command``; ``startup`` is its "Listening" line, ``returncode`` its exit code
    once stopped, ``seen`` every line read so far."""

    def __init__(self, command: list[str]) -> None:
        self.command = command
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self.startup = ""
        self.returncode: int | None = None

    def __enter__(self) -> ListenRunner:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.process = subprocess.Popen(
            self.command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
        )
        threading.Thread(target=self._pump, daemon=True).start()
        try:
            self.startup = self.wait_for_line(lambda line: line.startswith("Listening"), "the start")
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.returncode = self.process.wait(timeout=WAIT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=WAIT_S)
        while not self.lines.empty():  # what it said while stopping
            self.seen.append(self.lines.get())

    def wait_for_line(self, wanted: Callable[[str], bool], what: str) -> str:
        """The first line from now on that is ``wanted``; fails once the process ended or after WAIT_S."""
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=1.0)
            except queue.Empty:
                if self.process.poll() is not None and self.lines.empty():
                    break
                continue
            self.seen.append(line)
            if wanted(line):
                return line
        raise AssertionError(f"no line for {what}; the listener said: {self.seen[-20:]}")
