"""Viewer state without Qt: ranking parity with the triage engine, settings, PHI-free log."""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from inference.api import ImageMeta, LabelCard, ModelCard, Preprocessing, ScanEntry, Status, StudyResult, Task
from inference.worklist.ranking import Figures, rank
from viewer.core import ranked_worklist
from viewer.core.errorlog import RedactingFilter, path_token, redact, setup_error_log
from viewer.core.ranked_worklist import Worklist
from viewer.core.settings import Settings
from viewer.core.wording import counted
from viewer.core.worklist import RowState
from viewer.core.worklist_export import export_worklist

LABELS = ("Atelectasis", "Effusion", "Pneumothorax")


def card(sha: str = "f" * 64) -> ModelCard:
    points = {"high_sensitivity": 0.2, "youden": 0.4, "high_specificity": 0.7}
    labels = tuple(LabelCard(n, operating_points=points) for n in LABELS)
    return ModelCard("m", "1", "densenet121", Task.MULTILABEL, Preprocessing.CHEXNET, labels, sha)


def random_results(n: int, seed: int = 0) -> list[StudyResult]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        date = rng.choice(["", "20240101", "20230505"])
        meta = ImageMeta(path=Path(f"/x/{i}.dcm"), study_uid=f"1.{i}", study_date=date)
        status = rng.choices([Status.SCORED, Status.ERROR, Status.NOT_SCORED], [8, 1, 1])[0]
        probs = {k: round(rng.random(), 2) for k in LABELS} if status is Status.SCORED else {}
        out.append(StudyResult(meta.study_uid, meta, status, "" if probs else "why", probs))
    return out


def filled(results: list[StudyResult], thresholds: dict[str, float]) -> Worklist:
    wl = Worklist()
    wl.add_entries(ScanEntry(r.meta) for r in results)
    wl.thresholds = thresholds
    wl.rerank(wl.apply_results(results))
    wl.resort()
    return wl


@pytest.mark.parametrize(("seed", "n"), [(0, 100), (1, 100), (2, 900)])
def test_worklist_order_matches_the_triage_engine(seed, n):
    results = random_results(n, seed)
    thresholds = {"Atelectasis": 0.3, "Effusion": 0.6, "Pneumothorax": 0.15}
    wl = filled(results, thresholds)
    expected = rank(results, thresholds)
    assert [r.uid for r in wl.rows] == [item.result.study_uid for item in expected]
    for row, item in zip(wl.rows, expected, strict=True):
        assert row.rank == item.rank
        assert row.positives == item.positive_findings
        if row.state is RowState.SCORED:
            assert row.top_finding == item.top_finding


def test_a_new_result_recomputes_only_its_row(monkeypatch):
    rows_computed: list[int] = []
    engine = ranked_worklist.figures

    def counting(
        probabilities: Sequence[Mapping[str, float]], thresholds: Mapping[str, float]
    ) -> list[Figures]:
        rows_computed.append(len(probabilities))
        return engine(probabilities, thresholds)

    results = random_results(50)
    wl = filled(results[:-1], dict.fromkeys(LABELS, 0.5))
    monkeypatch.setattr(ranked_worklist, "figures", counting)
    wl.add_entries([ScanEntry(results[-1].meta)])
    wl.rerank(wl.apply_results(results[-1:]))
    assert rows_computed == [1]


def test_rows_that_are_not_scored_have_no_figures():
    meta = ImageMeta(path=Path("/x/err.dcm"), study_uid="err")
    failed = StudyResult("err", meta, Status.ERROR, "truncated", {"Effusion": 0.9})  # stale scores
    wl = filled([failed], dict.fromkeys(LABELS, 0.5))
    row = wl.rows[0]
    assert (row.positives, row.risk, row.top_finding, row.top_probability) == ((), 0.0, "", None)
    assert row.rank == 1


def test_settings_round_trip_and_thresholds_per_weights(tmp_path):
    path = tmp_path / "s.json"
    s = Settings.load(path)
    assert s.thresholds_for(card()) == dict.fromkeys(LABELS, 0.4)
    s.store_thresholds(card(), {"Effusion": 0.9})
    for i in range(12):
        s.add_recent(f"/data/{i}")
    s.deidentify = True
    s.save()
    again = Settings.load(path)
    assert again.deidentify and len(again.recent_folders) == 8 and again.recent_folders[0] == "/data/11"
    assert again.thresholds_for(card())["Effusion"] == 0.9
    assert again.thresholds_for(card("0" * 64)) == dict.fromkeys(LABELS, 0.4)  # another model: card's


def test_a_settings_file_from_before_the_rename_keeps_its_deidentify_choice(tmp_path):
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"hide_phi": True}))
    assert Settings.load(path).deidentify is True


def test_corrupt_settings_fall_back_to_defaults(tmp_path):
    path = tmp_path / "s.json"
    path.write_text("{not json")
    assert Settings.load(path).export_folder == ""
    path.write_text(json.dumps({"recent_folders": 5}))
    assert Settings.load(path).recent_folders == []


def test_default_settings_location_follows_the_env_override(tmp_path, monkeypatch):
    monkeypatch.setenv("CXR_TRIAGE_HOME", str(tmp_path / "home"))
    assert Settings.load().path == tmp_path / "home" / "settings.json"


def test_error_log_redacts_paths(tmp_path):
    text = redact("cannot read /data/DOE^JOHN/study 1/img.dcm: corrupt")
    assert "DOE" not in text and "<file#" in text
    assert path_token("/a/b.dcm") == path_token("/a/b.dcm") != path_token("/a/c.dcm")
    log_file = setup_error_log(tmp_path / "logs" / "x.log")
    root = logging.getLogger()
    try:
        logger = logging.getLogger("viewer.test")
        try:
            raise OSError("/home/pat/SMITH_ANNA/1.dcm unreadable")
        except OSError:
            logger.exception("failed on %s", "/srv/SMITH_ANNA/1.dcm")
        logging.getLogger("pydicom").warning("value 'DOE^JANE' too long")  # libraries: errors only
        for handler in root.handlers:
            handler.flush()
        written = log_file.read_text()
        assert "DOE^JANE" not in written
        assert "SMITH" not in written and "unreadable" in written and "failed on <file#" in written
    finally:
        for handler in [h for h in root.handlers if any(isinstance(f, RedactingFilter) for f in h.filters)]:
            root.removeHandler(handler)
            handler.close()


def test_export_hides_phi_when_asked(tmp_path):
    wl = filled(random_results(10), dict.fromkeys(LABELS, 0.5))
    csv_path, json_path = export_worklist(wl.ranked_rows(), card(), wl.thresholds, tmp_path, deidentify=True)
    doc = json.loads(json_path.read_text())
    assert doc["patient_identifiers"] == "removed" and len(doc["studies"]) == 10
    for s in doc["studies"]:
        assert (
            s["file"].startswith("image-") and s["study_uid"].startswith("study-") and s["patient_id"] == ""
        )
    header = csv_path.read_text().splitlines()[0].split(",")
    assert header[:3] == ["rank", "file", "study_uid"] and header[-4:] == [
        "review",
        "reviewed_by",
        "reviewed_at",
        "review_note",
    ]
    assert csv_path.name.startswith("worklist-") and csv_path.name != "worklist.csv"  # never overwritten


def test_lru_cache_caps_count_and_bytes():
    from viewer.core.cache import LruCache

    cache: LruCache[bytes] = LruCache(3, len, max_weight=10)
    for key, value in [("a", b"1234"), ("b", b"1234"), ("c", b"12")]:
        cache.put(key, value)
    assert "a" in cache and len(cache) == 3
    cache.get("a")  # a is now the most recent
    cache.put("d", b"1234")  # 14 bytes > 10: the least recent (b) goes
    assert "b" not in cache and "a" in cache and "d" in cache
    cache.put("huge", b"x" * 100)  # the newest always stays
    assert len(cache) == 1 and "huge" in cache


def test_counts_read_as_english():
    assert counted(1, "study", "studies") == "1 study"
    assert [counted(n, "file", "files") for n in (0, 2)] == ["0 files", "2 files"]
