"""The team store from the command line (issue #23, items 1 and 3): ``--db postgresql://...`` and
``CXR_TRIAGE_DB`` name it for any command; ``next`` claims the highest-ranked study nobody reviewed
or holds, ``claim`` and ``release`` do the obvious; a SQLite store refuses claims plainly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from postgres_cluster import Logins

from inference.api import ImageMeta, ScanEntry, Status
from inference.bundled import DEMO_MODEL
from inference.cli.main import main
from inference.models.card import read_card
from inference.store import ImageResult, Store


def scored_studies(url: str) -> None:
    """'urgent' (every finding likely), 'calm' (none), and 'waiting' (not scored yet)."""
    card = read_card(DEMO_MODEL)
    labels = [label.name for label in card.labels]
    with Store(url) as store:
        uids = store.record(
            [ScanEntry(meta=ImageMeta(path=Path(f"/x/{s}.dcm"), study_uid=s, sop_uid=f"{s}.1"))
             for s in ("calm", "urgent", "waiting")]
        )  # fmt: skip
        store.save_results(
            [ImageResult(uids[0], Status.SCORED, dict.fromkeys(labels, 0.01)),
             ImageResult(uids[1], Status.SCORED, dict.fromkeys(labels, 0.99))],
            card.weights_sha256,
        )  # fmt: skip


def test_next_claims_in_reading_order_and_says_when_nothing_is_left(logins: Logins, capsys):
    scored_studies(logins["listen"])
    claimed = []
    for _ in range(3):
        assert main(["next", "--json", "--db", logins["alice"]]) == 0
        claim = json.loads(capsys.readouterr().out)
        assert claim["holder"] == logins.name("alice") and claim["mine"]
        claimed.append(claim["study_uid"])
    assert claimed == ["urgent", "calm", "waiting"]  # ranked first, the study not scored yet last
    assert main(["next", "--json", "--db", logins["bob"]]) == 0
    assert json.loads(capsys.readouterr().out) is None


def test_claim_and_release_from_the_command_line(logins: Logins, capsys):
    scored_studies(logins["listen"])
    assert main(["claim", "urgent", "--lease", "5", "--db", logins["alice"]]) == 0
    assert "urgent: claimed by you until" in capsys.readouterr().out
    assert main(["claim", "urgent", "--db", logins["bob"]]) == 1
    assert f"urgent: being read by {logins.name('alice')} until" in capsys.readouterr().out
    assert main(["release", "urgent", "--db", logins["bob"]]) == 1
    assert main(["release", "urgent", "--db", logins["alice"]]) == 0
    assert main(["claim", "urgent", "--db", logins["bob"]]) == 0
    assert main(["claim", "nothing", "--db", logins["bob"]]) == 2


def test_any_command_takes_the_team_store_from_db_or_the_environment(
    logins: Logins, monkeypatch: pytest.MonkeyPatch, capsys
):
    scored_studies(logins["listen"])
    assert main(["review", "urgent", "accept", "--note", "seen", "--db", logins["alice"]]) == 0
    assert f"accepted by {logins.name('alice')}" in capsys.readouterr().out
    monkeypatch.setenv("CXR_TRIAGE_DB", logins["bob"])
    assert main(["audit", "--json"]) == 0
    events = json.loads(capsys.readouterr().out)
    assert [(e["action"], e["user"]) for e in events][-1] == ("accepted", logins.name("alice"))


def test_a_sqlite_store_refuses_claims_with_a_plain_message(tmp_path: Path, capsys):
    db = tmp_path / "s.sqlite"
    with Store(db) as store:
        store.record([ScanEntry(meta=ImageMeta(path=tmp_path / "a.png", study_uid="1", sop_uid="1.1"))])
    assert main(["claim", "1", "--db", str(db)]) == 2
    assert "claims need a team store on a PostgreSQL server" in capsys.readouterr().err
    assert main(["next", "--db", str(db)]) == 2
