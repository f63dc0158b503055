"""The store's behaviour on both backends (a SQLite file, a PostgreSQL database): identity, results,
reviews, audit, archive, arrivals, two writers. What only one backend has is tested beside it
(tests/unit/test_store.py: the SQLite file; test_postgres_store.py: the server)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from inference.api import ImageMeta, ScanEntry, Status
from inference.store import CONTENT_CHANGED, ImageResult, Store

SHA = "ab" * 32


def entry(path: Path, study: str = "1.2.3", sop: str = "", name: str = "DOE^JOHN", **kw) -> ScanEntry:
    meta = ImageMeta(path=path, study_uid=study, sop_uid=sop, patient_id="PID-7", patient_name=name, **kw)
    return ScanEntry(meta=meta)


def test_results_are_kept_per_weights_and_non_utf8_paths_survive(store_target: Path | str, tmp_path: Path):
    odd = Path(os.fsdecode(bytes(tmp_path) + b"/caf\xe9.png"))
    with Store(store_target) as store:
        (uid,) = store.record([entry(odd, sop="1.9")])
        store.save_results([ImageResult(uid, Status.SCORED, {"Pneumonia": 0.25}, warnings=("grey",))], SHA)
        assert store.results(SHA)[uid].probabilities == {"Pneumonia": 0.25}
        assert store.results(SHA)[uid].warnings == ("grey",)
        assert store.results("cd" * 32) == {}
        assert store.images()[0].entry.meta.path == odd  # the exact bytes of the name come back


def test_probabilities_come_back_to_the_last_digit(store_target: Path | str, tmp_path: Path):
    hard = {"A": 0.1 + 0.2, "B": 1 / 3, "C": 5e-324, "D": float(np.nextafter(1.0, 0.0)), "E": 0.0, "F": 1.0}
    with Store(store_target) as store:
        (uid,) = store.record([entry(tmp_path / "a.png", sop="1.1", window_center=1 / 7)])
        store.save_results([ImageResult(uid, Status.SCORED, hard, gate_score=2 / 3)], SHA)
        kept = store.results(SHA)[uid]
        assert kept.probabilities == hard and list(kept.probabilities) == list(hard)
        assert kept.gate_score == 2 / 3
        assert store.images()[0].entry.meta.window_center == 1 / 7


def test_an_image_seen_again_keeps_its_arrival(store_target: Path | str, tmp_path: Path):
    with Store(store_target) as store:
        store.record([entry(tmp_path / "a.png", sop="1.1")])
        first = store.arrivals(["1.2.3"])["1.2.3"]
        store.record([entry(tmp_path / "moved.png", sop="1.1")])
        assert store.arrivals(["1.2.3"])["1.2.3"] == first
        assert [i.entry.meta.path.name for i in store.images()] == ["moved.png"]


def test_reviews_persist_and_every_change_is_audited_without_patient_names(
    store_target: Path | str, tmp_path: Path
):
    with Store(store_target) as store:
        (uid,) = store.record([entry(tmp_path / "a.png", sop="1.1")])
        store.save_results([ImageResult(uid, Status.SCORED, {"Pneumonia": 0.9})], SHA, precision="fp32")
        store.set_review("1.2.3", "accepted", note="agree")
        store.set_review("1.2.3", "rejected")
        store.log("opened", study_uid="1.2.3", weights_sha256=SHA)
        with pytest.raises(ValueError, match="unknown review outcome"):
            store.set_review("1.2.3", "maybe")
        with pytest.raises(KeyError):
            store.set_review("9.9.9", "accepted")
    with Store(store_target) as store:
        review = store.reviews()["1.2.3"]
        assert (review.outcome, review.note) == ("rejected", "")
        assert review.user and review.time.endswith("+00:00")
        store.clear_review("1.2.3")
        assert store.reviews() == {}
        events = store.audit()
    assert [e.action for e in events] == ["scored", "accepted", "rejected", "opened", "review-cleared"]
    assert events[0].weights_sha256 == SHA and events[1].detail == {"note": "agree"}
    assert all(e.user for e in events)
    assert "DOE" not in repr(events) and "JOHN" not in repr(events)


def test_archived_studies_leave_the_worklist_but_stay_in_the_store(store_target: Path | str, tmp_path: Path):
    with Store(store_target) as store:
        store.record(
            [entry(tmp_path / "a.png", study="1", sop="1.1"), entry(tmp_path / "b.png", study="2", sop="2.1")]
        )
        assert store.archive(["1"]) == 1
        assert [i.entry.meta.study_uid for i in store.images()] == ["2"]
        assert len(store.images(include_archived=True)) == 2
        assert store.archive_older_than("9999-01-01T00:00:00+00:00") == 1
        assert store.images() == []


def test_a_result_scored_again_and_a_gate_override_are_the_newest(store_target: Path | str, tmp_path: Path):
    with Store(store_target) as store:
        (uid,) = store.record([entry(tmp_path / "a.png", sop="1.1")])
        stopped = ImageResult(uid, Status.NOT_SCORED, {"Pneumonia": 0.7}, "outside", gate_score=1.5)
        store.save_results([ImageResult(uid, Status.SCORED, {"Pneumonia": 0.1})], SHA, precision="fp32")
        store.save_results([stopped], SHA, precision="fp32")
        assert store.results(SHA)[uid].status is Status.NOT_SCORED
        assert store.override_gate("1.2.3", SHA) == 1
        now = store.results(SHA)[uid]
        assert (now.status, now.gate_overridden, now.probabilities) == (
            Status.SCORED,
            True,
            {"Pneumonia": 0.7},
        )
        assert store.reusable_results(SHA, "fp32", [uid])[uid].gate_overridden
        assert store.reusable_results(SHA, "fp16", [uid]) == {}
        assert [e.action for e in store.audit()][-1] == "gate-overridden"


def test_arrivals_embeddings_pacs_uids_and_purge(store_target: Path | str, tmp_path: Path):
    with Store(store_target) as store:
        start = store.last_image_seq()
        (a,) = store.record([entry(tmp_path / "a.png", study="1", sop="1.1")])
        vector = np.array([0.6, 0.8], dtype=np.float32)
        store.save_results([ImageResult(a, Status.SCORED, {"P": 0.5}, embedding=vector)], SHA)
        seq, images = store.images_since(start)
        assert [i.image_uid for i in images] == [a] and seq == store.last_image_seq()
        (b,) = store.record([entry(tmp_path / "b.png", study="2", sop="2.1")])
        assert [i.image_uid for i in store.images_since(seq)[1]] == [b]
        last, studies = store.embeddings_since(SHA)
        assert list(studies) == ["1"] and studies["1"][0].tolist() == vector.tolist()
        assert store.embeddings_since(SHA, last) == (last, {})
        assert store.same_patient_studies("1") == {"1", "2"}
        made = store.pacs_object_uids("1", SHA, "sr", lambda: ("9.1", "9.2"))
        assert store.pacs_object_uids("1", SHA, "sr", lambda: ("0.0", "0.0")) == made == ("9.1", "9.2")
        store.record_sent("1", SHA, "PACS@host:104", ["9.2"])
        assert store.sent("1") == [("sr", "9.2", "PACS@host:104")]
        assert [i.image_uid for i in store.purgeable("9999")] == [a, b]
        store.mark_purged([a])
        assert [i.image_uid for i in store.purgeable("9999")] == [b]
        assert store.images(["1"])[0].entry.meta.purged


WRITER = """
import sys
from pathlib import Path
from inference.api import ImageMeta, ScanEntry, Status
from inference.store import CONTENT_CHANGED, ImageResult, Store
store = Store(sys.argv[1])
tag = sys.argv[2]
for i in range(150):
    meta = ImageMeta(path=Path(f"/x/{tag}{i}.png"), study_uid=f"{tag}.{i}", sop_uid=f"{tag}.{i}.1")
    (uid,) = store.record([ScanEntry(meta=meta)])
    store.save_results([ImageResult(uid, Status.SCORED, {"Pneumonia": i / 150})], "ab" * 32)
    store.log("opened", study_uid=f"{tag}.{i}")
print("done")
"""


def test_two_processes_write_the_same_store_at_once(store_target: Path | str):
    Store(store_target).close()
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(store_target), tag], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        for tag in ("1", "2")
    ]  # fmt: skip
    outputs = [w.communicate(timeout=300) for w in writers]
    for w, (out, err) in zip(writers, outputs, strict=True):
        assert w.returncode == 0, err
        assert out.strip() == "done" and "locked" not in err
    with Store(store_target) as store:
        assert len(store.results("ab" * 32)) == 300
        assert sum(e.action == "opened" for e in store.audit()) == 300


def test_a_uid_reused_with_other_content_is_audited_and_its_results_kept_apart(
    store_target: Path | str, tmp_path: Path
):
    with Store(store_target) as store:
        (uid,) = store.record([entry(tmp_path / "a.dcm", sop="1.1", fingerprint="first")])
        store.save_results([ImageResult(uid, Status.SCORED, {"P": 0.2})], SHA, precision="fp32")
        store.record([entry(tmp_path / "a.dcm", sop="1.1", fingerprint="second")])
        assert store.results(SHA) == {}  # nothing scored of the second content yet
        (saved,) = store.save_results([ImageResult(uid, Status.SCORED, {"P": 0.9})], SHA, precision="fp32")
        assert CONTENT_CHANGED in saved.warnings
        now = store.results(SHA)[uid]
        assert now.probabilities == {"P": 0.9} and CONTENT_CHANGED in now.warnings
        (event,) = [e for e in store.audit() if e.action == "instance-uid-reused"]
        assert event.detail == {"image_uid": uid, "reason": CONTENT_CHANGED}
        store.save_results([ImageResult(uid, Status.ERROR, reason="unreadable")], SHA, precision="fp16")
        assert store.reusable_results(SHA, "fp16", [uid]) == {}  # an error is read again, never reused
