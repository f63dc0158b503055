"""``cxr-triage similar``: the JSON contract, text output, -k, and errors per query (exit 2 when none)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from similar_helpers import add_study, unit

from inference.bundled import DEMO_MODEL
from inference.cli.main import main
from inference.models.card import read_card
from inference.store import Store

SHA = read_card(DEMO_MODEL).weights_sha256  # the command's default model


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "studies.sqlite"
    with Store(path) as store:
        add_study(store, "q", [unit(1, 0)], patient_id="P1", sha=SHA)
        add_study(store, "prior", [unit(1, 0)], patient_id="P1", sha=SHA)
        add_study(store, "close", [unit(1, 0.1)], patient_id="P2", sha=SHA, probabilities={"Pneumonia": 0.97})
        add_study(store, "far", [unit(0, 1)], patient_id="P3", sha=SHA, probabilities={"Pneumonia": 0.01})
        store.set_review("close", "accepted", "confirmed on CT")
    return path


def test_json_maps_each_query_to_its_neighbours_most_similar_first(db: Path, capsys):
    assert main(["similar", "q", "far", "--db", str(db), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert list(out) == ["q", "far"]
    assert [n["study_uid"] for n in out["q"]] == ["close", "far"]  # not itself, not its patient's prior
    close = out["q"][0]
    assert close["similarity"] == pytest.approx(float(unit(1, 0) @ unit(1, 0.1)), abs=1e-4)
    assert close["similarity"] > out["q"][1]["similarity"]
    assert close["review"] == "accepted" and close["review_note"] == "confirmed on CT"
    assert close["probabilities"] == {"Pneumonia": 0.97}
    assert (close["top_finding"], close["positive_findings"]) == ("Pneumonia", ["Pneumonia"])
    assert out["q"][1]["review"] is None and out["q"][1]["positive_findings"] == []


def test_k_limits_the_neighbours_and_text_is_the_default(db: Path, capsys):
    assert main(["similar", "q", "-k", "1", "--db", str(db)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "q: 1 most similar studies"
    assert len(lines) == 2 and "close" in lines[1] and "accepted" in lines[1] and "Pneumonia 0.97" in lines[1]


def test_an_unknown_study_is_an_error_for_that_query_only(db: Path, capsys):
    assert main(["similar", "nope", "q", "--db", str(db), "--json"]) == 0
    captured = capsys.readouterr()
    assert list(json.loads(captured.out)) == ["q"]
    assert "no study nope in" in captured.err


def test_exit_2_when_no_query_can_be_answered(db: Path, capsys):
    with Store(db) as store:
        add_study(store, "other-model", [unit(1, 0)], sha="c" * 64)
    assert main(["similar", "nope", "other-model", "--db", str(db), "--json"]) == 2
    err = capsys.readouterr().err
    assert "no study nope" in err and "other-model has no scored frontal image" in err


def test_k_must_be_positive(db: Path, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["similar", "q", "-k", "0", "--db", str(db)])
    assert stop.value.code == 2
