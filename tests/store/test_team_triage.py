"""``triage`` into a team store, as the service login, gives the same results as into a SQLite file,
to the last digit (issue #23, item 1)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from postgres_cluster import Logins

from inference.bundled import DEMO_MODEL
from inference.cli.main import main
from inference.models.card import read_card
from inference.store import Store

SAMPLES = Path(__file__).parents[2] / "resources" / "samples"


def test_triage_into_the_team_store_scores_as_into_a_file_to_the_last_digit(logins: Logins, tmp_path: Path):
    folder = tmp_path / "studies"
    folder.mkdir()
    shutil.copy(SAMPLES / "00000001_000.png", folder)
    shutil.copy(SAMPLES / "DX_chest_NIH_google_1024_8bit.dcm", folder)
    worklists = {}
    for name, db in (("file", str(tmp_path / "s.sqlite")), ("team", logins["listen"])):
        out = tmp_path / name
        assert main(["triage", str(folder), "--db", db, "--out", str(out), "--device", "cpu"]) == 0
        worklists[name] = json.loads((out / "worklist.json").read_text())["studies"]
    weights = read_card(DEMO_MODEL).weights_sha256
    with Store(tmp_path / "s.sqlite") as file, Store(logins["alice"]) as team:
        in_file, in_team = file.results(weights), team.results(weights)
    assert len(in_file) == 2
    assert {uid: r.probabilities for uid, r in in_team.items()} == {
        uid: r.probabilities for uid, r in in_file.items()
    }
    assert worklists["team"] == worklists["file"]
