"""The study store on a real SQLite file: what only the file has (WAL, migrations, identity, the audit's
triggers). The behaviour both backends share: tests/store/test_store_api.py."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from inference.api import ImageMeta, ScanEntry
from inference.identity import content_uid, image_uid
from inference.store import Store, StoreError
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
    monkeypatch.setattr("inference.store.sqlite_backend.MIGRATIONS", newer)
    monkeypatch.setattr("inference.store.sqlite_backend.VERSION", len(newer))
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


def test_the_audit_trail_is_append_only(tmp_path: Path):
    with Store(tmp_path / "s.sqlite") as store:
        store.log("opened", study_uid="1.2.3")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            store._db.execute("UPDATE audit SET action = 'nothing'")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            store._db.execute("DELETE FROM audit")
