"""The team store's server stopped (``pg_ctl stop -m fast``, as a restart or an upgrade does) and
started again under a running ``listen`` while studies arrive (issue #23): listen goes on receiving,
keeps what arrives in its inbox, and once the server is back records and scores it; nothing lost,
nothing doubled."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

import pytest
from listen_process import ListenProcess, new_study, require_storescu
from postgres_cluster import Cluster

from inference.store import Store
from inference.store.postgres_backend import create_login
from inference.store.postgres_schema import SERVICE_ROLE

pytestmark = pytest.mark.slow


def test_studies_that_arrive_while_the_server_is_down_are_kept_then_recorded_and_scored_once(
    own_pg_cluster: Cluster, tmp_path: Path
) -> None:
    require_storescu()
    cluster = own_pg_cluster
    with cluster.admin() as admin:
        admin.execute("CREATE DATABASE team")
    Store(cluster.url("team")).close()  # schema and roles, as `store init` makes them
    create_login(cluster.url("team"), "listen", SERVICE_ROLE, "pw-listen")
    studies = [new_study(tmp_path, f"study{n}") for n in range(5)]
    uids = [uid for _, uid in studies]

    with ListenProcess(cluster.url("team", "listen", "pw-listen"), tmp_path / "inbox") as listen:
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

    with Store(cluster.url("team")) as store:
        _, arrivals = store.images_since(0)
        audit = store.audit()
    assert sorted(image.entry.meta.study_uid for image in arrivals) == sorted(uids)  # each image once
    assert Counter(e.study_uid for e in audit if e.action == "scored") == Counter(uids)  # scored once each
