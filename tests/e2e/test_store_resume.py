"""A real ``triage`` run killed with SIGKILL halfway keeps every committed batch; a rerun scores only
the rest and gives the probabilities of an uninterrupted run (within 1e-6, with the defaults); a third
run reuses everything."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from inference.cli.main import main

SAMPLES = Path(__file__).parents[2] / "resources" / "samples"
IMAGES = 10
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def studies(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Ten distinct real radiographs: two samples, each cropped five ways (distinct content)."""
    folder = tmp_path_factory.mktemp("studies")
    for name in ("00000001_000.png", "00003956_001.png"):
        pixels = cv2.imread(str(SAMPLES / name), cv2.IMREAD_GRAYSCALE)
        for k in range(IMAGES // 2):
            crop = pixels[4 * k :, 3 * k :]
            cv2.imwrite(str(folder / f"{Path(name).stem}_{k}.png"), np.ascontiguousarray(crop))
    return folder


def _command(studies: Path, package: Path, db: Path, out: Path) -> list[str]:
    return [
        "triage", str(studies), "--model", str(package), "--db", str(db), "--out", str(out),
        "--device", "cpu", "--batch-size", "1",
    ]  # fmt: skip


def _results(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return int(conn.execute("SELECT count(*) FROM results").fetchone()[0])
    except sqlite3.Error:
        return 0  # not created yet


def _probabilities(out: Path) -> dict[str, dict[str, float]]:
    rows = json.loads((out / "worklist.json").read_text())["studies"]
    return {Path(r["file"]).name: {k: r[k] for k in ("Pneumonia", "Effusion")} for r in rows}


def test_sigkill_halfway_loses_nothing_committed(studies: Path, random_package: Path, tmp_path: Path):
    db = tmp_path / "store.sqlite"
    code = "import sys; from inference.cli.main import main; sys.exit(main(sys.argv[1:]))"
    env = {**os.environ, "CXR_TRIAGE_DB": str(db)}
    run = subprocess.Popen(
        [sys.executable, "-c", code, *_command(studies, random_package, db, tmp_path / "killed")],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 300
    while _results(db) < 3 and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    run.send_signal(signal.SIGKILL)
    run.wait(timeout=60)
    kept = _results(db)
    assert 3 <= kept < IMAGES, f"the kill should land halfway, found {kept} results"

    assert main(_command(studies, random_package, db, tmp_path / "resumed")) == 0
    counts = json.loads((tmp_path / "resumed" / "worklist.json").read_text())["run"]
    assert counts == {"scored": IMAGES - kept, "reused": kept, "errors": 0}

    fresh = tmp_path / "fresh.sqlite"
    uninterrupted = _command(studies, random_package, fresh, tmp_path / "fresh")[:-2]  # batches of 8
    assert main(uninterrupted) == 0
    resumed, clean = _probabilities(tmp_path / "resumed"), _probabilities(tmp_path / "fresh")
    assert resumed.keys() == clean.keys() and len(clean) == IMAGES
    for name, probs in clean.items():
        assert resumed[name] == pytest.approx(probs, abs=1e-6)

    assert main(_command(studies, random_package, db, tmp_path / "third")) == 0
    third = json.loads((tmp_path / "third" / "worklist.json").read_text())["run"]
    assert third == {"scored": 0, "reused": IMAGES, "errors": 0}
