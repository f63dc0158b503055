"""``cxr-triage listen`` as a service runs it, for the team-store tests: a real process on 127.0.0.1 on a
free port, its output lines on a queue, and dcmtk's ``storescu`` to send it studies (each a copy of a
fixture with UIDs of its own, as a modality would make them)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pydicom
import pytest
from listen_runner import WAIT_S, ListenRunner
from postgres_cluster import free_port
from pydicom.uid import generate_uid

AET = "CXRTRIAGE"
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


class ListenProcess(ListenRunner):
    """``cxr-triage listen --db URL`` in a subprocess; stopped with SIGTERM, killed if it will not stop."""

    def __init__(self, db: str, inbox: Path) -> None:
        self.port = free_port()
        command = [sys.executable, "-m", "inference.cli.main", "listen", "--port", str(self.port),
                        "--bind", "127.0.0.1", "--aet", AET, "--db", db, "--inbox", str(inbox),
                        "--device", "cpu", "--min-free-gb", "0"]  # fmt: skip
        super().__init__(command)

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
