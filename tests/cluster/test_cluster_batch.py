"""``cxr-triage batch`` on a local Ray: the triage worklist, reuse, a killed worker, Ctrl+C."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
from pathlib import Path

import pytest

from inference.bundled import DEMO_MODEL
from inference.cli.main import EXIT_INTERRUPTED, main, parse

pytestmark = pytest.mark.slow

IMAGES_TO_SCORE = 6  # the fixture's readable images; the truncated one is an error row


def _worklist(out: Path) -> dict:
    return json.loads((out / "worklist.json").read_text(encoding="utf-8"))


def _result_rows(db: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(db) as con:
        return con.execute("SELECT image_uid, status FROM results").fetchall()


def test_batch_stopped_by_ctrl_c_resumes_to_the_triage_worklist_then_reuses_everything(
    images: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from inference.cli.commands import batch

    db, out = tmp_path / "batch.sqlite", tmp_path / "batch-out"
    argv = ["batch", str(images), "--workers", "2", "--batch-size", "1", "--db", str(db), "--out", str(out)]
    calls: list[int] = []

    def ctrl_c_once(images_done: int, finished: object) -> None:  # after the first committed batch
        calls.append(images_done)
        if len(calls) == 1:
            raise KeyboardInterrupt

    assert batch.run(parse(argv), on_batch=ctrl_c_once) == EXIT_INTERRUPTED
    stopped = _worklist(out)
    kept = stopped["run"]["scored"] + stopped["run"]["errors"]
    assert stopped["partial"] is True and 1 <= kept < IMAGES_TO_SCORE + 1
    assert len(_result_rows(db)) == kept  # what was counted was committed, and nothing else

    assert main(argv) == 0
    progress = capsys.readouterr().err
    assert "images/s" in progress and "ETA" in progress
    resumed = _worklist(out)
    assert resumed["partial"] is False and resumed["run"]["reused"] == kept
    assert resumed["run"]["scored"] + resumed["run"]["errors"] == IMAGES_TO_SCORE + 1 - kept
    triage_out = tmp_path / "triage-out"
    triage = ["triage", str(images), "--db", str(tmp_path / "t.sqlite")]  # the defaults, fp32
    assert main([*triage, "--out", str(triage_out)]) == 0
    reference = _worklist(triage_out)
    assert [s["study_uid"] for s in resumed["studies"]] == [s["study_uid"] for s in reference["studies"]]
    assert [s["status"] for s in resumed["studies"]] == [s["status"] for s in reference["studies"]]
    truncated = next(s for s in resumed["studies"] if s["file"].endswith("truncated.png"))
    assert truncated["status"] == "error" and "truncated" in truncated["error"]
    for mine, theirs in zip(resumed["studies"], reference["studies"], strict=True):
        for label in reference["thresholds"]:
            if theirs[label] is not None:
                assert mine[label] == pytest.approx(theirs[label], abs=1e-6)  # same precision, same runtime

    assert main([*argv[:-1], str(tmp_path / "again")]) == 0
    again = _worklist(tmp_path / "again")
    assert again["run"] == {"scored": 0, "reused": IMAGES_TO_SCORE, "errors": 1}  # an error is read again
    assert again["studies"] == resumed["studies"]


def test_a_worker_killed_mid_run_loses_and_duplicates_nothing(images: Path, tmp_path: Path) -> None:
    import ray

    from inference.cluster import runtime
    from inference.cluster.pipeline import ClusterScoring
    from inference.models.card import read_card
    from inference.runtime.scoring import plan_studies
    from inference.store import Store
    from inference.worklist.studies import RunCounts

    card = read_card(DEMO_MODEL)
    store = Store(tmp_path / "kill.sqlite")
    runtime.connect("local", 2)
    scorers: list = []
    try:
        entries = runtime.scan_entries([images], exclude=[])
        scorers, _ = runtime.start_scorers(DEMO_MODEL, card.weights_sha256, "cpu", 2)
        victim = ray.get(scorers[0].where.remote())[1]
        counts = RunCounts()
        studies = plan_studies(entries, card.weights_sha256, "fp32", store, counts)
        killed: list[int] = []

        def kill_once(images_done: int, finished: object) -> None:
            if not killed:
                os.kill(victim, signal.SIGKILL)
                killed.append(victim)

        scoring = ClusterScoring(
            studies, scorers, store, card.weights_sha256, card.preprocessing.value,
            batch_size=1, counts=counts, on_batch=kill_once,
        )  # fmt: skip
        scoring.run()
        restarted = ray.get(scorers[0].where.remote())[1]
    finally:
        runtime.shutdown(scorers)
        store.close()
    assert killed and restarted != victim
    assert (counts.scored, counts.errors) == (IMAGES_TO_SCORE, 1)  # the truncated PNG
    rows = _result_rows(tmp_path / "kill.sqlite")
    assert len(rows) == len({uid for uid, _ in rows}) == IMAGES_TO_SCORE + 1
    assert sorted(r.study_uid for r in scoring.finished) == sorted({e.meta.study_uid for e in entries})
