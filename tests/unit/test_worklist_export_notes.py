"""The worklist exports carry the reader's review note after ``reviewed_at``: the viewer's export and
the ``triage``/``worklist`` commands' files alike (issue #22, item 11)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from inference.api import ImageMeta, LabelCard, ModelCard, Preprocessing, Status, StudyResult, Task
from inference.store import Review
from inference.worklist.export import write_worklist
from inference.worklist.ranking import rank
from viewer.core.ranked_worklist import Worklist
from viewer.core.worklist_export import export_worklist

LABELS = ("Effusion", "Pneumothorax")
NOTE = 'check the apex, "small" =1+1'


def card() -> ModelCard:
    labels = tuple(LabelCard(n, operating_points={"youden": 0.5}) for n in LABELS)
    return ModelCard("m", "1", "densenet121", Task.MULTILABEL, Preprocessing.CHEXNET, labels, "f" * 64)


def results() -> list[StudyResult]:
    out = []
    for i, p in enumerate((0.9, 0.2)):
        meta = ImageMeta(path=Path(f"/x/{i}.dcm"), study_uid=f"1.{i}", patient_id=f"P{i}")
        out.append(StudyResult(meta.study_uid, meta, Status.SCORED, "", dict.fromkeys(LABELS, p)))
    return out


def review(uid: str) -> Review:
    return Review(uid, "accepted", NOTE, "reader", "2024-01-02T10:00:00+00:00")


def read(csv_path: Path) -> tuple[list[str], list[dict[str, str]], list[dict[str, object]]]:
    with csv_path.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    header = csv_path.read_text(encoding="utf-8").splitlines()[0].split(",")
    return header, rows, json.loads(csv_path.with_suffix(".json").read_text())["studies"]


def test_the_viewers_export_carries_the_note_after_reviewed_at(tmp_path):
    wl = Worklist()
    wl.thresholds = dict.fromkeys(LABELS, 0.5)
    wl.load(results(), [], {"1.0": review("1.0")})
    header, rows, studies = read(export_worklist(wl.ranked_rows(), card(), wl.thresholds, tmp_path, False)[0])
    assert header[-4:] == ["review", "reviewed_by", "reviewed_at", "review_note"]
    assert rows[0]["review_note"] == NOTE
    assert studies[0]["review_note"] == NOTE and studies[1]["review_note"] == ""


def test_the_commands_worklist_has_the_same_columns_and_note(tmp_path):
    items = rank(results(), dict.fromkeys(LABELS, 0.5))
    csv_path, _ = write_worklist(items, card(), {}, tmp_path, reviews={"1.0": review("1.0")})
    header, rows, studies = read(csv_path)
    viewer_header = read(export_worklist([], card(), {}, tmp_path / "viewer", False)[0])[0]
    assert header == viewer_header
    assert studies[0]["review_note"] == NOTE and rows[1]["review_note"] == ""


def test_a_deidentified_export_leaves_the_free_text_note_out(tmp_path):
    wl = Worklist()
    wl.thresholds = dict.fromkeys(LABELS, 0.5)
    wl.load(results(), [], {"1.0": review("1.0")})
    _, rows, studies = read(export_worklist(wl.ranked_rows(), card(), wl.thresholds, tmp_path, True)[0])
    assert studies[0]["review"] == "accepted" and studies[0]["review_note"] == ""
    assert rows[0]["review_note"] == ""
