"""The study store on a real SQLite file: migrations, identity, results, reviews, audit, two writers."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from inference.api import ImageMeta, ScanEntry, Status
from inference.identity import content_uid, image_uid
from inference.store import ImageResult, Store, StoreError
from inference.store import schema as schema_module

SHA = "ab" * 32


def entry(path: Path, study: str = "1.2.3", sop: str = "", name: str = "DOE^JOHN", **kw) -> ScanEntry:
    meta = ImageMeta(path=path, study_uid=study, sop_uid=sop, patient_id="PID-7", patient_name=name, **kw)
    return ScanEntry(meta=meta)


def test_a_new_store_is_at_the_latest_schema_in_wal_mode_with_foreign_keys(tmp_path: Path):
    with Store(tmp_path / "s.sqlite") as store:
        assert store.version == schema_module.VERSION
        assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store._db.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_forward_migration_keeps_the_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "s.sqlite"
    with Store(path) as store:
        store.record([entry(tmp_path / "a.png", sop="1.1")])
    newer = (*schema_module.MIGRATIONS, "ALTER TABLE studies ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;")
    monkeypatch.setattr("inference.store.db.MIGRATIONS", newer)
    monkeypatch.setattr("inference.store.db.VERSION", len(newer))
    with Store(path) as store:
        assert store.version == len(newer)
        assert [i.image_uid for i in store.images()] == ["1.1"]
        assert store._db.execute("SELECT priority FROM studies").fetchall() == [(0,)]


def test_a_store_from_a_newer_version_is_refused_plainly(tmp_path: Path):
    path = tmp_path / "s.sqlite"
    Store(path).close()
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {schema_module.VERSION + 1}")
    with pytest.raises(StoreError, match="newer CXR Triage"):
        Store(path)


def test_a_file_that_is_not_a_store_is_refused_plainly(tmp_path: Path):
    path = tmp_path / "s.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="not a CXR Triage study store"):
        Store(path)


def test_png_identity_follows_the_content_not_the_path(tmp_path: Path):
    a, b, c = tmp_path / "a.png", tmp_path / "b.png", tmp_path / "c.png"
    a.write_bytes(b"same pixels")
    b.write_bytes(b"same pixels")
    c.write_bytes(b"other pixels")
    assert content_uid(a, "image") == content_uid(b, "image") != content_uid(c, "image")
    assert content_uid(a, "image") != content_uid(a, "study")
    assert content_uid(a, "image").startswith("2.25.") and len(content_uid(a, "image")) <= 64
    assert image_uid(ImageMeta(path=a, study_uid="s", sop_uid="1.2.840.1")) == "1.2.840.1"


def test_results_are_kept_per_weights_and_non_utf8_paths_survive(tmp_path: Path):
    odd = Path(os.fsdecode(bytes(tmp_path) + b"/caf\xe9.png"))
    with Store(tmp_path / "s.sqlite") as store:
        (uid,) = store.record([entry(odd, sop="1.9")])
        store.save_results([ImageResult(uid, Status.SCORED, {"Pneumonia": 0.25}, warnings=("grey",))], SHA)
        assert store.results(SHA)[uid].probabilities == {"Pneumonia": 0.25}
        assert store.results(SHA)[uid].warnings == ("grey",)
        assert store.results("cd" * 32) == {}
        assert store.images()[0].entry.meta.path == odd  # the exact bytes of the name come back


def test_an_image_seen_again_keeps_its_arrival(tmp_path: Path):
    with Store(tmp_path / "s.sqlite") as store:
        store.record([entry(tmp_path / "a.png", sop="1.1")])
        first = store.arrivals(["1.2.3"])["1.2.3"]
        store.record([entry(tmp_path / "moved.png", sop="1.1")])
        assert store.arrivals(["1.2.3"])["1.2.3"] == first
        assert [i.entry.meta.path.name for i in store.images()] == ["moved.png"]


def test_reviews_persist_and_every_change_is_audited_without_patient_names(tmp_path: Path):
    path = tmp_path / "s.sqlite"
    with Store(path) as store:
        (uid,) = store.record([entry(tmp_path / "a.png", sop="1.1")])
        store.save_results([ImageResult(uid, Status.SCORED, {"Pneumonia": 0.9})], SHA, precision="fp32")
        store.set_review("1.2.3", "accepted", note="agree")
        store.set_review("1.2.3", "rejected")
        store.log("opened", study_uid="1.2.3", weights_sha256=SHA)
        with pytest.raises(ValueError, match="unknown review outcome"):
            store.set_review("1.2.3", "maybe")
        with pytest.raises(KeyError):
            store.set_review("9.9.9", "accepted")
    with Store(path) as store:
        review = store.reviews()["1.2.3"]
        assert (review.outcome, review.note) == ("rejected", "")
        assert review.user and review.time.endswith("+00:00")
        store.clear_review("1.2.3")
        assert store.reviews() == {}
        events = store.audit()
    assert [e.action for e in events] == ["scored", "accepted", "rejected", "opened", "review-cleared"]
    assert events[0].weights_sha256 == SHA and events[1].detail == {"note": "agree"}
    assert all(e.user for e in events)
    dump = "\n".join(line for line in sqlite3.connect(path).iterdump() if 'INSERT INTO "audit"' in line)
    assert "DOE" not in dump and "JOHN" not in dump


def test_the_audit_trail_is_append_only(tmp_path: Path):
    with Store(tmp_path / "s.sqlite") as store:
        store.log("opened", study_uid="1.2.3")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            store._db.execute("UPDATE audit SET action = 'nothing'")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            store._db.execute("DELETE FROM audit")


def test_archived_studies_leave_the_worklist_but_stay_in_the_store(tmp_path: Path):
    with Store(tmp_path / "s.sqlite") as store:
        store.record(
            [entry(tmp_path / "a.png", study="1", sop="1.1"), entry(tmp_path / "b.png", study="2", sop="2.1")]
        )
        assert store.archive(["1"]) == 1
        assert [i.entry.meta.study_uid for i in store.images()] == ["2"]
        assert len(store.images(include_archived=True)) == 2
        assert store.archive_older_than("9999-01-01T00:00:00+00:00") == 1
        assert store.images() == []


WRITER = """
import sys
from pathlib import Path
from inference.api import ImageMeta, ScanEntry, Status
from inference.store import ImageResult, Store
store = Store(sys.argv[1])
tag = sys.argv[2]
for i in range(150):
    meta = ImageMeta(path=Path(f"/x/{tag}{i}.png"), study_uid=f"{tag}.{i}", sop_uid=f"{tag}.{i}.1")
    (uid,) = store.record([ScanEntry(meta=meta)])
    store.save_results([ImageResult(uid, Status.SCORED, {"Pneumonia": i / 150})], "ab" * 32)
    store.log("opened", study_uid=f"{tag}.{i}")
print("done")
"""


def test_two_processes_write_the_same_store_at_once(tmp_path: Path):
    path = tmp_path / "s.sqlite"
    Store(path).close()
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), tag], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        for tag in ("1", "2")
    ]  # fmt: skip
    outputs = [w.communicate(timeout=300) for w in writers]
    for w, (out, err) in zip(writers, outputs, strict=True):
        assert w.returncode == 0, err
        assert out.strip() == "done" and "locked" not in err
    with Store(path) as store:
        assert len(store.results("ab" * 32)) == 300
        assert sum(e.action == "opened" for e in store.audit()) == 300
