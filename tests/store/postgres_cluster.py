"""A throwaway PostgreSQL cluster for the team-store tests: Debian's ``postgresql`` binaries, run as
the ``postgres`` user when the tests run as root; its data and Unix socket in a temporary folder; on
127.0.0.1 on a free port, ``fsync=off``; password authentication over TCP, as a site would set it."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg


def server_programs() -> Path:
    """Where initdb and pg_ctl are: CXR_TRIAGE_PG_BIN, else the newest Debian postgresql installed
    (/usr/lib/postgresql/<major>/bin; 15 on Debian 12)."""
    if os.environ.get("CXR_TRIAGE_PG_BIN"):
        return Path(os.environ["CXR_TRIAGE_PG_BIN"])
    found = [p.parent for p in Path("/usr/lib/postgresql").glob("*/bin/initdb") if p.parts[-3].isdigit()]
    return max(found, key=lambda b: int(b.parts[-2])) if found else Path("/usr/lib/postgresql/15/bin")


BIN = server_programs()
INSTALL = "install Debian's postgresql (apt-get install postgresql), as .ci/run does"
ADMIN, ADMIN_PASSWORD = "postgres", "admin-secret"


@dataclass(frozen=True)
class Cluster:
    port: int
    socket_dir: Path
    data: Path
    options: str  # the server's settings, as pg_ctl passes them on (-o)
    log: Path

    def url(self, dbname: str, user: str = ADMIN, password: str = ADMIN_PASSWORD) -> str:
        return f"postgresql://{user}:{password}@127.0.0.1:{self.port}/{dbname}"

    def admin(self) -> psycopg.Connection:
        return psycopg.connect(self.url("postgres"), autocommit=True)

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        subprocess.run(
            _as_postgres([str(BIN / "pg_ctl"), "-D", str(self.data), "-o", self.options, "-l", str(self.log),
                          "-w", "start"]),
            check=True, capture_output=True,
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast``: as a site's restart does, every session ended and rolled back)."""
        subprocess.run(
            _as_postgres([str(BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"]),
            check=True,
            capture_output=True,
        )


def missing() -> str:
    """What the cluster needs and this machine lacks ("" when nothing)."""
    tools = [name for name in ("initdb", "pg_ctl", "postgres") if not (BIN / name).exists()]
    return ", ".join(str(BIN / name) for name in tools)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_postgres(command: list[str]) -> list[str]:
    """``initdb`` and ``postgres`` refuse to run as root: as root, run them as ``postgres``."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@contextlib.contextmanager
def running_cluster() -> Iterator[Cluster]:
    folder = Path(tempfile.mkdtemp(prefix="cxr-triage-pg-"))
    try:
        folder.chmod(0o755)
        data, sockets, password_file = folder / "data", folder / "sockets", folder / "password"
        sockets.mkdir()
        password_file.write_text(ADMIN_PASSWORD + "\n")
        if os.geteuid() == 0:
            shutil.chown(sockets, "postgres")
            shutil.chown(password_file, "postgres")
            shutil.chown(folder, "postgres")
        subprocess.run(
            _as_postgres([str(BIN / "initdb"), "-D", str(data), "-U", ADMIN, f"--pwfile={password_file}",
                          "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync"]),
            check=True, capture_output=True,
        )  # fmt: skip
        port = free_port()
        options = (
            f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={sockets} -c fsync=off"
            " -c synchronous_commit=off -c full_page_writes=off -c max_connections=60"
        )
        cluster = Cluster(port, sockets, data, options, folder / "log")
        cluster.start()
        try:
            yield cluster
        finally:
            with contextlib.suppress(subprocess.CalledProcessError):  # a test may have left it stopped
                cluster.stop("immediate")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class Logins(dict[str, str]):
    """Login roles of this test's database by name: their URLs. Role names carry the database's, as
    roles belong to the whole cluster."""

    def __init__(self, database: str) -> None:
        super().__init__()
        self.database = database

    def name(self, who: str) -> str:
        return f"{who}_{self.database}"
