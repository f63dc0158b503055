"""``cxr-triage batch`` with a DICOMweb root as its source: the PACS's chest studies are retrieved into
the pull cache and scored on a local Ray, the hip stays ``not_scored``, and a second run fetches and
scores nothing again."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from orthanc_server import Orthanc

from inference.store import Store

pytestmark = pytest.mark.slow
CHEST = ("CR_chest_SIIM_jpegbaseline_8bit.dcm", "DX_chest_NIH_google_1024_8bit.dcm",
         "DX_chest_PA_canon_J2KR_MONO1_966_fixed.dcm")  # fmt: skip
HIP = "RG2_JPLY_fixed.dcm"
RAY_ON_LOOPBACK = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_AUTH_MODE": "disabled",
                   "RAY_USAGE_STATS_ENABLED": "0"}  # fmt: skip


def batch(*args: str) -> subprocess.CompletedProcess[str]:
    code = "import sys; from inference.cli.main import main; sys.exit(main(sys.argv[1:]))"
    options = ["--ray", "local", "--workers", "1", "--device", "cpu"]
    command = [sys.executable, "-c", code, "batch", *args, *options]
    env = {**os.environ, **RAY_ON_LOOPBACK}
    return subprocess.run(command, capture_output=True, text=True, timeout=300, env=env, check=False)


def test_batch_scores_the_studies_of_a_dicomweb_root(
    orthanc: Orthanc, samples_in_pacs: dict[str, str], tmp_path: Path
) -> None:
    db = tmp_path / "s.sqlite"
    first = batch(orthanc.dicomweb, "--db", str(db), "--out", str(tmp_path / "out"))
    assert first.returncode == 0, first.stderr
    document = json.loads((tmp_path / "out" / "worklist.json").read_text())
    status = {row["study_uid"]: row["status"] for row in document["studies"]}
    assert {status[samples_in_pacs[name]] for name in CHEST} == {"scored"}
    assert status[samples_in_pacs[HIP]] == "not_scored"
    assert document["run"] == {"scored": 3, "reused": 0, "errors": 0}
    assert len(list((tmp_path / "pacs-cache").rglob("*.dcm"))) == len(samples_in_pacs)
    with Store(db) as store:
        [retrieved] = [e.detail for e in store.audit() if e.action == "pacs-retrieve"]
    assert retrieved["command"] == "batch" and retrieved["node"] == orthanc.dicomweb
    assert retrieved["studies"] == retrieved["found"] >= len(CHEST) and retrieved["failure"] == ""
    assert (retrieved["tls"], retrieved["certificate_verified"], retrieved["authentication"]) == (
        False,
        False,
        "none",
    )

    second = batch(orthanc.dicomweb, "--db", str(db), "--out", str(tmp_path / "again"))
    assert second.returncode == 0, second.stderr
    assert "1 instances retrieved" not in second.stdout
    assert json.loads((tmp_path / "again" / "worklist.json").read_text())["run"]["reused"] == 3
