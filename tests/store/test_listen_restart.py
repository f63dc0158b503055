"""The team store's server stopped (``pg_ctl stop -m fast``, as a restart or an upgrade does) and
started again under a running ``listen`` while studies arrive (issue #23): listen goes on receiving,
keeps what arrives in its inbox, and once the server is back records and scores it; nothing lost,
nothing doubled. Stopped while the server is down, listen says what stays in the inbox."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pydicom
import pytest
from listen_process import ListenProcess, new_study, require_storescu
from postgres_cluster import Cluster
from test_arrivals import until, waiting_on_locks

from inference.store import Store
from inference.store.postgres_backend import create_login
from inference.store.postgres_schema import SERVICE_ROLE

pytestmark = pytest.mark.slow

HELD = 4243  # the advisory lock the test holds to keep listen's write of a result open


@pytest.fixture
def team(own_pg_cluster: Cluster) -> Iterator[str]:
    """The administrator's URL of a team store on a cluster of this test's own, with a service login
    ``listen`` (password ``pw-listen``)."""
    require_storescu()
    with own_pg_cluster.admin() as admin:
        admin.execute("CREATE DATABASE team")
    Store(own_pg_cluster.url("team")).close()  # schema and roles, as `store init` makes them
    create_login(own_pg_cluster.url("team"), "listen", SERVICE_ROLE, "pw-listen")
    yield own_pg_cluster.url("team")


def service(cluster: Cluster) -> str:
    return cluster.url("team", "listen", "pw-listen")


def recorded_and_scored(url: str) -> tuple[list[str], Counter[str]]:
    """The study of each image recorded (in sequence order), and how often each study was scored."""
    with Store(url) as store:
        _, arrivals = store.images_since(0)
        audit = store.audit()
    scored = Counter(e.study_uid for e in audit if e.action == "scored")
    return [image.entry.meta.study_uid for image in arrivals], scored


def test_studies_that_arrive_while_the_server_is_down_are_kept_then_recorded_and_scored_once(
    own_pg_cluster: Cluster, team: str, tmp_path: Path
) -> None:
    cluster = own_pg_cluster
    studies = [new_study(tmp_path, f"study{n}") for n in range(5)]
    uids = [uid for _, uid in studies]

    with ListenProcess(service(cluster), tmp_path / "inbox") as listen:
        listen.send(studies[0][0])
        listen.wait_for_scored({uids[0]})

        sending = threading.Thread(target=lambda: [listen.send(path) for path, _ in studies[1:3]])
        sending.start()  # the server goes away while these arrive
        cluster.stop()
        sending.join()
        listen.send(studies[3][0])  # arrives while it is down
        listen.wait_for_line(lambda line: "kept in the inbox" in line, "the kept files line")
        assert listen.process.poll() is None

        cluster.start()
        listen.wait_for_scored(set(uids[1:4]))  # by listen's retry: nothing else arrived
        listen.send(studies[4][0])
        listen.wait_for_scored({uids[4]})
        assert listen.process.poll() is None
    assert listen.returncode == 0, listen.seen[-20:]

    recorded, scored = recorded_and_scored(team)
    assert sorted(recorded) == sorted(uids)  # each image once
    assert scored == Counter(uids)  # each study's result written once


def test_a_result_whose_write_the_restart_broke_is_written_once_when_the_server_is_back(
    own_pg_cluster: Cluster, team: str, tmp_path: Path
) -> None:
    cluster = own_pg_cluster
    path, uid = new_study(tmp_path, "held")
    with psycopg.connect(team, autocommit=True) as admin:  # listen's write of this result waits
        admin.execute(
            "CREATE FUNCTION hold() RETURNS trigger LANGUAGE plpgsql AS $$"
            f" BEGIN PERFORM pg_advisory_xact_lock_shared({HELD}); RETURN NEW; END $$"
        )
        admin.execute("CREATE TRIGGER hold AFTER INSERT ON results FOR EACH ROW EXECUTE FUNCTION hold()")
    gate = psycopg.connect(team, autocommit=True)
    gate.execute("SELECT pg_advisory_lock(%s)", (HELD,))
    with ListenProcess(service(cluster), tmp_path / "inbox") as listen:
        listen.send(path)
        until(lambda: waiting_on_locks(team) == 1, "listen to be writing the result")
        cluster.stop()  # ends listen's session mid-transaction (and the gate's)
        gate.close()
        listen.wait_for_line(lambda line: "kept in the inbox" in line, "the kept files line")
        cluster.start()
        listen.wait_for_scored({uid})
    assert listen.returncode == 0, listen.seen[-20:]
    assert recorded_and_scored(team) == ([uid], Counter([uid]))


def test_stopped_while_the_server_is_down_listen_says_what_stays_in_the_inbox(
    own_pg_cluster: Cluster, team: str, tmp_path: Path
) -> None:
    cluster = own_pg_cluster
    path, uid = new_study(tmp_path, "late")
    inbox = tmp_path / "inbox"
    with ListenProcess(service(cluster), inbox) as listen:
        cluster.stop()
        listen.send(path)
        listen.wait_for_line(lambda line: "kept in the inbox" in line, "the kept files line")
    assert listen.returncode == 0, listen.seen[-20:]
    assert any(f"1 received file(s) not recorded (the store cannot be written); they stay in {inbox}" in line
               for line in listen.seen), listen.seen[-20:]  # fmt: skip
    [kept] = inbox.rglob("*.dcm")
    assert pydicom.dcmread(kept).StudyInstanceUID == uid
