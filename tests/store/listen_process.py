"""``cxr-triage listen`` as a service runs it, for the team-store tests: a real process on 127.0.0.1 on a
free port, its output lines on a queue, and dcmtk's ``storescu`` to send it studies (each a copy of a
fixture with UIDs of its own, as a modality would make them)."""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pydicom
import pytest
from postgres_cluster import free_port
from pydicom.uid import generate_uid

AET = "CXRTRIAGE"
WAIT_S = 120.0  # bound on every wait for the listener (never a timing assertion)
SOURCE = Path(__file__).parents[1] / "fixtures" / "dicom" / "DX_chest_NIH_google_1024_8bit.dcm"


def require_storescu() -> None:
    if shutil.which("storescu") is None:
        message = "these tests send studies with dcmtk's storescu: apt-get install dcmtk"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (CI must run them; .ci/run installs it)")
        pytest.skip(message)


def new_study(folder: Path, name: str) -> tuple[Path, str]:
    """A one-image study of its own (new study, series and SOP instance UIDs): its file and study UID."""
    ds = pydicom.dcmread(SOURCE)
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    path = folder / f"{name}.dcm"
    ds.save_as(path, enforce_file_format=True)
    return path, str(ds.StudyInstanceUID)


class ListenProcess:
    """``cxr-triage listen --db URL`` in a subprocess; stopped with SIGTERM, killed if it will not stop."""

    def __init__(self, db: str, inbox: Path) -> None:
        self.port = free_port()
        self.command = [sys.executable, "-m", "inference.cli.main", "listen", "--port", str(self.port),
                        "--bind", "127.0.0.1", "--aet", AET, "--db", db, "--inbox", str(inbox),
                        "--device", "cpu", "--min-free-gb", "0"]  # fmt: skip
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self.returncode: int | None = None

    def __enter__(self) -> ListenProcess:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.process = subprocess.Popen(
            self.command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
        )
        threading.Thread(target=self._pump, daemon=True).start()
        try:
            self.wait_for_line(lambda line: line.startswith("Listening"), "the start")
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
        raise AssertionError(f"no line for {what}; listen said: {self.seen[-20:]}")

    def wait_for_scored(self, study_uids: set[str]) -> None:
        """Until listen said each of these studies was scored (in any order)."""
        left = set(study_uids)
        while left:
            line = self.wait_for_line(lambda seen: seen.split(":")[0] in left, f"the scores of {left}")
            assert ": scored;" in line, line
            left.discard(line.split(":")[0])

    def send(self, path: Path) -> None:
        """C-STORE ``path`` with storescu; the listener answered success."""
        sent = subprocess.run(
            ["storescu", "-to", "30", "-ta", "30", "-td", "60", "-aec", AET, "127.0.0.1", str(self.port),
             str(path)],
            capture_output=True, text=True, timeout=WAIT_S, check=False,
        )  # fmt: skip
        assert sent.returncode == 0, sent.stdout + sent.stderr
