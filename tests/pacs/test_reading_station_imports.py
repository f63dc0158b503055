"""The reading station runs without the training stack: on a CPU, every read-path command and the viewer
score, explain and exchange studies without importing torch, torchvision or captum.

Each command runs in its own process, on real files, a real PACS (Orthanc: ``pull``) and a real
listener (``send`` to ``listen``); at exit the process writes which of those modules it had imported.
This environment has torch installed, so an import anywhere on the path would show.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from orthanc_server import SAMPLES, Orthanc, free_port

from inference.store import Store

TRAINING_STACK = ("torch", "torchvision", "captum")
WAIT_S = 120.0  # bound on every command and every wait
RUN = f"""
import atexit, json, os, sys
def report():
    with open(os.environ["IMPORTS_REPORT"], "w") as out:
        json.dump([m for m in {TRAINING_STACK!r} if m in sys.modules], out)
atexit.register(report)
from viewer.app import main
sys.exit(main(sys.argv[1:]))
"""
COMMANDS = (
    "triage", "worklist", "review", "similar", "audit", "export-dicom", "pull", "send", "listen", "gui",
)  # fmt: skip


class Station:
    """``cxr-triage`` run in subprocesses against one store, each reporting the modules it imported."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.db = folder, folder / "store.sqlite"
        self.loaded: dict[str, list[str]] = {}
        self.env = dict(os.environ, CXR_TRIAGE_HOME=str(folder / "home"), QT_QPA_PLATFORM="offscreen")

    def start(self, name: str, *args: str, db: Path | None = None) -> subprocess.Popen[str]:
        env = dict(self.env, IMPORTS_REPORT=str(self.folder / f"{name}.json"))
        command = [sys.executable, "-c", RUN, *args, "--db", str(db or self.db)]
        return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def run(self, name: str, *args: str) -> str:
        process = self.start(name, *args)
        output, _ = process.communicate(timeout=WAIT_S)
        assert process.returncode == 0, f"{name} exited {process.returncode}:\n{output}"
        return self.report(name, output)

    def report(self, name: str, output: str) -> str:
        self.loaded[name] = json.loads((self.folder / f"{name}.json").read_text())
        return output


def study_uids(db: Path) -> list[str]:
    with Store(db) as store:
        return sorted({image.entry.meta.study_uid for image in store.images()})


def listen_and_send(station: Station) -> None:
    """``send`` the stored results to a running ``listen``, which stores and scores what arrives."""
    port, listener_db = free_port(), station.folder / "listener.sqlite"
    listener = station.start(
        "listen", "listen", "--port", str(port), "--bind", "127.0.0.1", "--aet", "CXRLISTEN",
        "--inbox", str(station.folder / "inbox"), db=listener_db,
    )  # fmt: skip
    try:
        station.run("send", "send", f"dicom://CXRLISTEN@127.0.0.1:{port}", "--timeout", "60")
        deadline = time.monotonic() + WAIT_S
        while not (listener_db.exists() and study_uids(listener_db)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert study_uids(listener_db), "the listener recorded nothing"
    finally:
        if listener.poll() is None:
            listener.send_signal(signal.SIGTERM)
        output, _ = listener.communicate(timeout=WAIT_S)
    assert listener.returncode == 0, output
    station.report("listen", output)


@pytest.fixture(scope="module")
def station(
    orthanc: Orthanc, samples_in_pacs: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Station]:
    station = Station(tmp_path_factory.mktemp("station"))
    studies = station.folder / "studies"
    studies.mkdir()
    for name in ("00000001_000.png", "DX_chest_NIH_google_1024_8bit.dcm"):
        shutil.copy(SAMPLES / name, studies / name)
    station.run("triage", "triage", str(studies), "--out", str(station.folder / "out"), "--device", "cpu")
    station.run("worklist", "worklist", "--out", str(station.folder / "worklist"))
    first = study_uids(station.db)[0]
    station.run("review", "review", first, "reviewed", "--note", "seen")
    station.run("similar", "similar", first)
    station.run("audit", "audit")
    station.run("export-dicom", "export-dicom", "--out", str(station.folder / "dicom"))
    pulled = samples_in_pacs["CR_chest_SIIM_jpegbaseline_8bit.dcm"]
    station.run("pull", "pull", f"{orthanc.http}/dicom-web", "--study", pulled, "--out", str(station.folder))
    listen_and_send(station)
    screenshot = station.folder / "viewer.png"
    station.run("gui", "gui", str(studies), "--smoke-screenshot", str(screenshot))
    assert screenshot.stat().st_size > 0
    yield station


@pytest.mark.parametrize("command", COMMANDS)
def test_the_read_path_imports_no_training_stack(station: Station, command: str) -> None:
    assert station.loaded[command] == []


def test_the_check_sees_torch_where_it_is_loaded(station: Station) -> None:
    """The same report, from a command that does need torch (``--backend torch``), names it."""
    image = SAMPLES / "00000001_000.png"
    station.run("torch", "triage", str(image), "--out", str(station.folder / "torch"), "--backend", "torch")
    assert "torch" in station.loaded["torch"]
