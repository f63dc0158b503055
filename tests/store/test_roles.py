"""Who may do what on a team store (issue #23, item 2): ``store init`` and ``store add-user`` as IT
runs them; a reader cannot write results or touch the audit, a service cannot review; nobody may
UPDATE, DELETE or TRUNCATE the audit; who and when are the server's word."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from postgres_cluster import Cluster, Logins

from inference.api import ImageMeta, ScanEntry, Status
from inference.cli.main import main
from inference.store import ImageResult, Store, StoreError

SHA = "ab" * 32


def one_study(url: str) -> str:
    with Store(url) as store:
        (uid,) = store.record(
            [ScanEntry(meta=ImageMeta(path=Path("/x/a.dcm"), study_uid="1", sop_uid="1.1"))]
        )
    return uid


def test_store_init_and_add_user_make_a_login_whose_name_the_audit_keeps(
    pg_cluster: Cluster, pg_database: str, pg_url: str, monkeypatch: pytest.MonkeyPatch, capsys
):
    assert main(["store", "init", pg_url]) == 0
    assert "cxr_service and cxr_reader" in capsys.readouterr().out
    assert main(["store", "init", pg_url]) == 0  # again: nothing to do
    name = f"dr_x_{pg_database}"
    monkeypatch.setenv("PGPASSWORD", "s3cret")
    assert main(["store", "add-user", pg_url, name, "--role", "reader"]) == 0
    with pytest.raises(StoreError):
        Store(pg_cluster.url(pg_database, name, "wrong"))
    with Store(pg_cluster.url(pg_database, name, "s3cret")) as reader:
        reader.log("opened", study_uid="1")
        (event,) = reader.audit()
    assert event.user == name


def test_a_reader_cannot_write_results_or_touch_the_audit(pg_url: str, logins: Logins):
    uid = one_study(logins["listen"])
    with Store(logins["alice"]) as alice:
        with pytest.raises(StoreError, match="permission denied"):
            alice.save_results([ImageResult(uid, Status.SCORED, {"P": 0.5})], SHA)
        with pytest.raises(StoreError, match="permission denied"):
            alice.record([ScanEntry(meta=ImageMeta(path=Path("/x/b.dcm"), study_uid="2", sop_uid="2.1"))])
        alice.log("opened", study_uid="1")
    for who in ("alice", "listen"):  # a reader, a service
        with psycopg.connect(logins[who], autocommit=True) as raw:
            for statement in ("UPDATE audit SET action = 'x'", "DELETE FROM audit", "TRUNCATE audit"):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    raw.execute(statement)
            with pytest.raises(psycopg.errors.InsufficientPrivilege):  # no forged who or when
                raw.execute("""INSERT INTO audit ("user", action) VALUES ('someone-else', 'x')""")


def test_a_service_cannot_review_or_claim(logins: Logins):
    one_study(logins["listen"])
    with Store(logins["listen"]) as service:
        with pytest.raises(StoreError, match="permission denied"):
            service.set_review("1", "accepted")
        with pytest.raises(StoreError, match="permission denied"):
            service.claim("1")
        assert service.reviews() == {}


def test_even_the_owner_cannot_rewrite_the_audit_and_who_and_when_are_the_servers(pg_url: str):
    Store(pg_url).close()
    with psycopg.connect(pg_url, autocommit=True) as owner:
        owner.execute("""INSERT INTO audit (time, "user", action) VALUES ('2000-01-01', 'mallory', 'x')""")
        user, when, now = owner.execute("SELECT a.user, a.time, now() FROM audit a").fetchone()
        assert user == "postgres" and when.year == now.year != 2000
        for statement in ("UPDATE audit SET action = 'y'", "DELETE FROM audit", "TRUNCATE audit"):
            with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                owner.execute(statement)
        assert owner.execute("SELECT count(*) FROM audit").fetchone()[0] == 1


def test_add_user_asks_for_the_password_twice_without_pgpassword(
    pg_cluster: Cluster, pg_database: str, pg_url: str, monkeypatch: pytest.MonkeyPatch, capsys
):
    one_study(pg_url)
    monkeypatch.delenv("PGPASSWORD", raising=False)
    typed = iter(["first", "other", "same", "same"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(typed))
    name = f"svc_{pg_database}"
    assert main(["store", "add-user", pg_url, name, "--role", "service"]) == 2
    assert "type the same one twice" in capsys.readouterr().err
    assert main(["store", "add-user", pg_url, name, "--role", "service"]) == 0
    with (
        Store(pg_cluster.url(pg_database, name, "same")) as service,
        pytest.raises(StoreError, match="denied"),
    ):
        service.set_review("1", "accepted")
