"""Three writers on one team store at once, as a department runs them (issue #23): ``listen`` receiving
from storescu, ``batch`` on a local Ray and ``triage``, each a real process as the service login, while
two readers follow the arrivals as a viewer does (a LISTEN wake-up, then ``images_since`` from the last
sequence number seen). Neither reader misses an arrival or sees one twice; every image is recorded and
scored once."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import pytest
from listen_process import WAIT_S, ListenProcess, new_study, require_storescu
from postgres_cluster import Logins

from inference.bundled import DEMO_MODEL
from inference.models.card import read_card
from inference.store import Store
from inference.store.postgres_backend import ArrivalListener

pytestmark = pytest.mark.slow

PER_WRITER = 6
MOST_SENT = 40  # bound on the studies sent to listen
COMMAND = [sys.executable, "-m", "inference.cli.main"]
# Ray on loopback, offline, no token, as tests/cluster's conftest sets it
RAY_OFFLINE = {
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
    "RAY_AUTH_MODE": "disabled",
    "RAY_USAGE_STATS_ENABLED": "0",
}


def follow_arrivals(url: str, written: threading.Event, into: list[str]) -> None:
    """A reader: each study UID that arrives, in the order seen, until every writer is done."""
    with ArrivalListener(url) as listener, Store(url) as reader:
        cursor = 0
        while True:
            last = written.is_set()  # then this catch-up sees every commit
            listener.wait(0.5)
            cursor, images = reader.images_since(cursor)
            into.extend(image.entry.meta.study_uid for image in images)
            if last:
                return


def start(command: str, folder: Path, db: str) -> subprocess.Popen[str]:
    """``batch`` (one Ray worker) or ``triage`` of ``folder/command`` into ``db``, a batch per image."""
    workers = ["--workers", "1"] if command == "batch" else []
    return subprocess.Popen(
        [*COMMAND, command, str(folder / command), *workers, "--db", db, "--device", "cpu",
         "--batch-size", "1", "--out", str(folder / f"{command}-out")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=os.environ | RAY_OFFLINE,
    )  # fmt: skip


def test_listen_batch_and_triage_at_once_two_readers_miss_no_arrival(logins: Logins, tmp_path: Path) -> None:
    require_storescu()
    studies: dict[str, list[str]] = {}
    for writer in ("batch", "triage"):
        (tmp_path / writer).mkdir()
        studies[writer] = [new_study(tmp_path / writer, f"{writer}{n}")[1] for n in range(PER_WRITER)]
    (tmp_path / "sent").mkdir()
    studies["listen"] = []
    written = threading.Event()
    seen: dict[str, list[str]] = {"alice": [], "bob": []}
    readers = [
        threading.Thread(target=follow_arrivals, args=(logins[who], written, seen[who])) for who in seen
    ]
    for reader in readers:
        reader.start()
    service = logins["listen"]
    others: dict[str, subprocess.Popen[str]] = {}
    try:
        with ListenProcess(service, tmp_path / "inbox") as listen:
            others.update((name, start(name, tmp_path, service)) for name in ("batch", "triage"))
            # studies arrive over DICOM for as long as the other two write (a few at least, a bounded number)
            while len(studies["listen"]) < MOST_SENT and (
                len(studies["listen"]) < PER_WRITER or any(p.poll() is None for p in others.values())
            ):
                path, uid = new_study(tmp_path / "sent", f"listen{len(studies['listen'])}")
                listen.send(path)
                studies["listen"].append(uid)
            said = {name: process.communicate(timeout=WAIT_S)[0] for name, process in others.items()}
            codes = {name: process.returncode for name, process in others.items()}
            assert codes == {"batch": 0, "triage": 0}, said
            listen.wait_for_scored(set(studies["listen"]))
        assert listen.returncode == 0, listen.seen[-20:]
    finally:
        for process in others.values():
            if process.poll() is None:  # the test failed before they ended
                process.kill()
                process.wait()
        written.set()
        for reader in readers:
            reader.join(timeout=WAIT_S)
    expected = sorted(uid for made in studies.values() for uid in made)

    assert sorted(seen["alice"]) == expected  # every arrival, each once
    assert sorted(seen["bob"]) == expected
    with Store(logins["alice"]) as store:
        recorded = [image.entry.meta.study_uid for image in store.images()]
        results = store.results(read_card(DEMO_MODEL).weights_sha256)
        scored = Counter(event.study_uid for event in store.audit() if event.action == "scored")
    assert sorted(recorded) == expected
    assert len(results) == len(expected)
    assert scored == Counter(expected)  # each study's result written once
