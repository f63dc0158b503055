"""A study's prior (issue #22, problem 12) and how another study is named (problem 10), without Qt."""

from __future__ import annotations

from pathlib import Path

from inference.api import ImageMeta, ScanEntry, Status, StudyResult
from viewer.core.priors import prior_of
from viewer.core.study_label import display_date, study_name
from viewer.core.worklist import StudyRow


def row(uid: str, patient: str, date: str, time: str = "", status: Status = Status.SCORED) -> StudyRow:
    meta = ImageMeta(Path(f"/data/{uid}.dcm"), uid, patient_id=patient, study_date=date, study_time=time)
    return StudyRow(uid, 0, [ScanEntry(meta)], StudyResult(uid, meta, status))


def test_the_prior_is_the_latest_earlier_study_of_the_same_patient():
    current = row("now", "P1", "20240301", "0900")
    rows = [
        current,
        row("old", "P1", "20200101"),
        row("prior", "P1", "20230105"),
        row("same-day-earlier", "P1", "20240301", "0800"),
        row("later", "P1", "20250101"),
        row("other patient", "P2", "20240201"),
        row("no date", "P1", ""),
    ]
    assert prior_of(rows, current).uid == "same-day-earlier"
    assert prior_of([r for r in rows if r.uid != "same-day-earlier"], current).uid == "prior"


def test_no_prior_without_a_patient_a_date_or_a_readable_earlier_study():
    assert prior_of([row("a", "", "20240301"), row("b", "", "20230101")], row("a", "", "20240301")) is None
    assert prior_of([row("b", "P1", "20230101")], row("a", "P1", "")) is None
    unreadable = row("b", "P1", "20230101", status=Status.ERROR)
    assert prior_of([unreadable], row("a", "P1", "20240301")) is None


def test_a_study_is_named_by_patient_or_file_and_date_and_by_date_alone_when_hidden():
    meta = ImageMeta(Path("/data/DOE_JOHN.dcm"), "1.2.3", patient_id="P2", study_date="20230105")
    assert study_name(meta, deidentify=False) == "Patient P2 · 2023-01-05"
    assert study_name(ImageMeta(Path("/x/chest.png"), "u"), deidentify=False) == "chest.png"
    hidden = study_name(meta, deidentify=True)
    assert hidden == "Study of 2023-01-05" and "DOE" not in hidden and "P2" not in hidden
    assert display_date("not a date") == "not a date"


def test_the_stores_studies_of_the_patient_include_archived_ones_not_unreadable_ones(tmp_path):
    from inference.store import Store
    from viewer.core.priors import stored_studies_of_patient

    def entry(uid: str, patient: str, status: Status = Status.SCORED) -> ScanEntry:
        return ScanEntry(ImageMeta(Path(f"/d/{uid}.dcm"), uid, patient_id=patient, sop_uid=uid), status)

    with Store(tmp_path / "s.sqlite") as store:
        store.record([entry("now", "P1"), entry("old", "P1"), entry("bad", "P1", Status.ERROR)])
        store.record([entry("else", "P2"), entry("png", "")])
        store.archive(["old"])
        assert [r.uid for r in stored_studies_of_patient(store, "now")] == ["old"]
        assert stored_studies_of_patient(store, "png") == []
