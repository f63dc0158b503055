"""The team-store tests run against a real PostgreSQL server: one throwaway cluster per session
(:mod:`postgres_cluster`), one database per test; a test that stops and starts the server gets a
cluster of its own (``own_pg_cluster``). Without Debian's ``postgresql`` they skip, saying how to
install it, except under ``CI=true``, where they must run and so fail instead.

``store_target`` runs a test on both backends: a SQLite file, and a database on the cluster."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from postgres_cluster import INSTALL, Cluster, Logins, missing, running_cluster

_numbers = itertools.count(1)


def _require_postgresql() -> None:
    lacking = missing()
    if lacking:
        message = f"the team-store tests need {lacking}: {INSTALL}"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (CI must run them; .ci/run installs it)")
        pytest.skip(message)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    _require_postgresql()
    with running_cluster() as cluster:
        yield cluster


@pytest.fixture
def own_pg_cluster() -> Iterator[Cluster]:
    """A cluster of this test's own, for a test that stops and starts the server (the session's one
    stays up for the others)."""
    _require_postgresql()
    with running_cluster() as cluster:
        yield cluster


@pytest.fixture
def pg_database(pg_cluster: Cluster) -> Iterator[str]:
    """The name of a new, empty database of its own for this test; dropped after it."""
    name = f"test_{next(_numbers)}"
    with pg_cluster.admin() as admin:
        admin.execute(f"CREATE DATABASE {name}")
    yield name
    with pg_cluster.admin() as admin:
        admin.execute(f"DROP DATABASE {name} WITH (FORCE)")


@pytest.fixture
def pg_url(pg_cluster: Cluster, pg_database: str) -> str:
    """The administrator's URL of this test's database."""
    return pg_cluster.url(pg_database)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_target(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    """Where a test's store lives, on each backend in turn."""
    if request.param == "sqlite":
        return tmp_path / "s.sqlite"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def logins(pg_cluster: Cluster, pg_database: str, pg_url: str) -> Logins:
    """Two readers (alice, bob) and a service (listen) on this test's store, made as IT would."""
    from inference.store import Store
    from inference.store.postgres_backend import create_login
    from inference.store.postgres_schema import READER_ROLE, SERVICE_ROLE

    Store(pg_url).close()  # schema and group roles
    found = Logins(pg_database)
    for who, role in (("alice", READER_ROLE), ("bob", READER_ROLE), ("listen", SERVICE_ROLE)):
        create_login(pg_url, found.name(who), role, "pw-" + who)
        found[who] = pg_cluster.url(pg_database, found.name(who), "pw-" + who)
    return found
