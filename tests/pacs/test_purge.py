"""``cxr-triage purge``: on a store filled by a real ``listen`` (dcmtk's ``storescu`` sends three
studies), the received files of old studies go, their results, reviews and audit stay, and the
worklist still lists them. Ages are measured by purge's clock, moved forward past the studies'
arrival. Files the store does not know, and files outside the inbox and the PACS cache beside the
store, are never touched.

Without dcmtk these skip with how to install it, except under ``CI=true``, where they must run."""

from __future__ import annotations

import csv
import json
import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pydicom
import pytest
from pydicom.uid import generate_uid
from test_listen_access import FIXTURES, OURS, Listener, dcmtk  # noqa: F401 (dcmtk: a fixture)

from inference.bundled import DEMO_MODEL
from inference.cli.commands import purge
from inference.cli.main import main
from inference.io import read_header
from inference.models.card import read_card
from inference.pacs.cache import instance_path, write_atomically
from inference.store import Store
from inference.store.location import INBOX, PULL_CACHE

SENT = {  # fixture: storescu's proposal (its transfer syntax)
    "DX_chest_NIH_google_1024_8bit.dcm": "-xi",
    "DX_16bit_J2KR.dcm": "-xv",
    "DX_chest_PA_canon_J2KR_MONO1_966_fixed.dcm": "-xv",
}
DAY = timedelta(days=1)


@pytest.fixture
def received(dcmtk: None, tmp_path: Path) -> Iterator[tuple[Path, list[str]]]:  # noqa: F811
    """A store and its inbox as ``listen`` left them after receiving and scoring three studies (the
    listener stopped); the study UIDs in the order sent."""
    studies = []
    with Listener(tmp_path) as listener:
        assert listener.inbox == tmp_path / INBOX  # beside the store, as by default
        for name, propose in SENT.items():
            answered = listener.store("SENDER", OURS, propose, FIXTURES / name)
            assert answered.returncode == 0, answered.stdout + answered.stderr
            study = str(pydicom.dcmread(FIXTURES / name, stop_before_pixels=True).StudyInstanceUID)
            listener.wait_for_line(lambda line, s=study: line.startswith(f"{s}: "), f"{name} scored")
            studies.append(study)
    yield listener.db, studies


def _clock(monkeypatch: pytest.MonkeyPatch, ahead: timedelta) -> None:
    moved = datetime.now(UTC) + ahead
    monkeypatch.setattr(purge, "now", lambda: moved)


def _files(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file()}


def _state(db: Path) -> tuple[dict, dict, int, dict[str, str]]:
    weights = read_card(DEMO_MODEL).weights_sha256
    with Store(db) as store:
        purged = {i.image_uid: i.entry.meta.purged for i in store.images(include_archived=True)}
        return store.results(weights), store.reviews(), len(store.audit()), purged


def _purges(db: Path) -> list[dict]:
    with Store(db) as store:
        return [dict(e.detail) for e in store.audit() if e.action == "purged"]


@pytest.mark.slow
def test_purge_removes_old_received_files_and_keeps_results_reviews_and_audit(
    received: tuple[Path, list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    db, (first, second, third) = received
    inbox, cache = tmp_path / INBOX, tmp_path / PULL_CACHE
    # retrieved by pull: an instance of another study in the PACS cache, recorded as pull records it
    pulled = pydicom.dcmread(FIXTURES / "RG2_JPLL.dcm")
    pulled.StudyInstanceUID, pulled.SOPInstanceUID = generate_uid(), generate_uid()
    pulled_path = instance_path(cache, pulled.StudyInstanceUID, pulled.SOPInstanceUID)
    pulled_path.parent.mkdir(parents=True)
    pulled.save_as(pulled_path, enforce_file_format=True)
    # known to the store but elsewhere (a local folder triaged), and unknown files in the inbox
    elsewhere = tmp_path / "local" / "chest.dcm"
    elsewhere.parent.mkdir()
    shutil.copy(FIXTURES / "RG2_JLSL.dcm", elsewhere)
    with Store(db) as store:
        store.record([read_header(pulled_path)], source="pull")
        store.record([read_header(elsewhere)])
        store.set_review(second, "accepted", "agree")
    stranger = inbox / "not-a-study" / "stray.dcm"
    stranger.parent.mkdir()
    stranger.write_bytes(b"not ours")
    beside_first = next((inbox / first).iterdir()).with_name("note.txt")
    beside_first.write_text("a file the store does not know, in a study's folder")
    received_files = _files(inbox) - {stranger, beside_first}
    assert len(received_files) == 3
    results, reviews, audited, purged = _state(db)
    assert len(results) >= 3 and not any(purged.values())
    args = ["purge", "--db", str(db)]

    # too young: the studies arrived 10 days before the clock, the purge is of those over 30
    _clock(monkeypatch, 10 * DAY)
    assert main([*args, "--older-than", "30"]) == 0
    assert _files(inbox) >= received_files and pulled_path.exists()
    assert "Removed 0 files" in capsys.readouterr().out and _purges(db) == []

    # --dry-run lists, removes and notes nothing
    assert main([*args, "--older-than", "7", "--dry-run"]) == 0
    said = capsys.readouterr().out
    assert "would remove 1 files" in said and second in said and pulled.StudyInstanceUID in said
    assert "Would remove 4 files" in said
    assert _files(inbox) >= received_files and pulled_path.exists()
    assert _state(db) == (results, reviews, audited, purged)

    # --reviewed-only: the reviewed study's files only
    assert main([*args, "--older-than", "7", "--reviewed-only"]) == 0
    assert second in capsys.readouterr().out
    left = _files(inbox)
    assert not (inbox / second).exists()  # its folder too, once empty
    assert {p for p in received_files if second not in str(p)} <= left and pulled_path.exists()
    [event] = _purges(db)
    size = sum(os.path.getsize(FIXTURES / n) for n in SENT if "16bit" in n)
    assert event == {"studies": 1, "files": 1, "bytes": pytest.approx(size, rel=0.05),
                     "older_than_days": 7.0, "reviewed_only": True}  # fmt: skip

    # the rest that is old enough: received and retrieved files; never the others
    assert main([*args, "--older-than", "7"]) == 0
    said = capsys.readouterr().out
    assert "Removed 3 files" in said and "of 3 studies" in said
    assert _files(inbox) == {stranger, beside_first} and not pulled_path.exists()
    assert elsewhere.exists() and (inbox / first).is_dir()  # it still holds the unknown file
    assert _purges(db)[-1]["files"] == 3 and "/" not in json.dumps(_purges(db))
    after_results, after_reviews, after_audit, after_purged = _state(db)
    assert after_results == results and after_reviews == reviews and after_audit == audited + 2
    stamped = {uid for uid, when in after_purged.items() if when}
    first_sop = str(pydicom.dcmread(FIXTURES / "DX_chest_NIH_google_1024_8bit.dcm").SOPInstanceUID)
    assert len(stamped) == 4 and str(pulled.SOPInstanceUID) in stamped
    assert main([*args, "--older-than", "0"]) == 0  # nothing left to remove: not audited again
    assert "Removed 0 files" in capsys.readouterr().out and len(_purges(db)) == 2

    # the worklist still lists every study from its stored results, and says their files are gone
    out = tmp_path / "out"
    assert main(["worklist", "--db", str(db), "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "5 studies from" in said and "4 of them with their files removed by purge" in said
    with (out / "worklist.csv").open() as f:
        listed = {row["study_uid"] for row in csv.DictReader(f)}
    assert listed == {
        first,
        second,
        third,
        str(pulled.StudyInstanceUID),
        str(read_header(elsewhere).meta.study_uid),
    }

    # export-dicom (and so send) skips them, saying why, instead of failing
    assert main(["export-dicom", "--out", str(tmp_path / "sr"), "--db", str(db), "--device", "cpu"]) != 0
    said = capsys.readouterr().err
    assert f"study {first} skipped: its files were removed by purge on {after_purged[first_sop][:10]}" in said


def _receive(inbox: Path, study: str, source: Path) -> Path:
    """One instance written as ``listen`` writes it (the inbox's study folder, atomically)."""
    ds = pydicom.dcmread(source)
    ds.StudyInstanceUID, ds.SOPInstanceUID = study, generate_uid()
    path = instance_path(inbox, study, ds.SOPInstanceUID)
    write_atomically(path, lambda target: ds.save_as(target, enforce_file_format=True))
    return path


def test_a_run_killed_between_removing_and_noting_is_finished_by_the_next_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db, inbox, study = tmp_path / "studies.sqlite", tmp_path / INBOX, generate_uid()
    removed_before, kept = (_receive(inbox, study, FIXTURES / "RG2_JPLL.dcm") for _ in range(2))
    # a link in the inbox to an instance elsewhere: the link goes, not its target
    target = _receive(tmp_path / "elsewhere", study, FIXTURES / "RG2_JPLL.dcm")
    link = inbox / study / "link.dcm"
    link.symlink_to(target)
    with Store(db) as store:
        store.record([read_header(p) for p in (removed_before, kept)])
        store.record([read_header(link)])
    size = os.path.getsize(kept)  # the link counts as a file of 0 bytes
    removed_before.unlink()  # what a purge killed after its unlink, before the store noted it, left
    _clock(monkeypatch, 2 * DAY)
    assert main(["purge", "--older-than", "1", "--db", str(db)]) == 0
    assert f"Removed 2 files ({size / 1e6:.1f} MB) of 1 studies" in capsys.readouterr().out
    assert not kept.exists() and not os.path.lexists(link) and target.exists()
    with Store(db) as store:
        assert all(image.entry.meta.purged for image in store.images())  # the removed one noted too


def test_an_instance_received_again_after_a_purge_is_no_longer_noted_as_purged(tmp_path: Path) -> None:
    path = _receive(tmp_path / INBOX, generate_uid(), FIXTURES / "RG2_JPLL.dcm")
    with Store(tmp_path / "studies.sqlite") as store:
        [uid] = store.record([read_header(path)])
        assert store.mark_purged([uid]) and store.images()[0].entry.meta.purged
        store.record([read_header(path)])  # listen writes it to the same place, and records it
        assert store.images()[0].entry.meta.purged == ""
        assert store.purgeable("9999") == store.images()  # and a later purge may remove it again
