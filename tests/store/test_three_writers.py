"""Three writers on one team store at once, as a department runs them (issue #23): ``listen`` receiving
from storescu, ``batch`` on a local Ray and ``triage``, each a real process as the service login, while
two viewer windows (two reader logins) follow the arrivals. Neither window misses an arrival or shows one
twice; every image is recorded and scored once."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from listen_process import WAIT_S, ListenProcess, new_study, require_storescu
from postgres_cluster import Logins
from team_viewer import team_windows  # noqa: F401  (the fixture)

from inference.bundled import DEMO_MODEL
from inference.models.card import read_card
from inference.store import Store

pytestmark = pytest.mark.slow

PER_WRITER = 6
MOST_SENT = 40  # bound on the studies sent to listen
FEED_MS = 600_000  # bound on the writing, while the windows follow
COMMAND = [sys.executable, "-m", "inference.cli.main"]
# Ray on loopback, offline, no token, as tests/cluster's conftest sets it
RAY_OFFLINE = {
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
    "RAY_AUTH_MODE": "disabled",
    "RAY_USAGE_STATS_ENABLED": "0",
}


def feed(listen: ListenProcess, folder: Path, writing: dict[str, subprocess.Popen[str]]) -> list[str]:
    """Studies to ``listen`` over DICOM for as long as the ``writing`` processes write (a few at least, a
    bounded number): their study UIDs."""
    sent: list[str] = []
    while len(sent) < MOST_SENT and (
        len(sent) < PER_WRITER or any(process.poll() is None for process in writing.values())
    ):
        path, uid = new_study(folder, f"listen{len(sent)}")
        listen.send(path)
        sent.append(uid)
    return sent


def shown(window) -> list[str]:
    """The studies in a window's worklist, sorted."""
    return sorted(row.uid for row in window.session.worklist_model.worklist.rows)


def start(command: str, folder: Path, db: str) -> subprocess.Popen[str]:
    """``batch`` (one Ray worker) or ``triage`` of ``folder/command`` into ``db``, a batch per image."""
    workers = ["--workers", "1"] if command == "batch" else []
    return subprocess.Popen(
        [*COMMAND, command, str(folder / command), *workers, "--db", db, "--device", "cpu",
         "--batch-size", "1", "--out", str(folder / f"{command}-out")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=os.environ | RAY_OFFLINE,
    )  # fmt: skip


def test_listen_batch_and_triage_at_once_two_viewers_miss_no_arrival(
    logins: Logins,  # before the windows: they close while the store is still there
    team_windows,  # noqa: F811
    qtbot,
    tmp_path: Path,
) -> None:
    require_storescu()
    studies: dict[str, list[str]] = {}
    for writer in ("batch", "triage"):
        (tmp_path / writer).mkdir()
        studies[writer] = [new_study(tmp_path / writer, f"{writer}{n}")[1] for n in range(PER_WRITER)]
    (tmp_path / "sent").mkdir()
    windows = [team_windows(logins[who], name=who) for who in ("alice", "bob")]
    service = logins["listen"]
    others: dict[str, subprocess.Popen[str]] = {}
    try:
        with ListenProcess(service, tmp_path / "inbox") as listen, ThreadPoolExecutor(1) as sender:
            others.update((name, start(name, tmp_path, service)) for name in ("batch", "triage"))
            feeding = sender.submit(feed, listen, tmp_path / "sent", others)
            qtbot.waitUntil(feeding.done, timeout=FEED_MS)  # the windows follow meanwhile
            studies["listen"] = feeding.result()
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
    expected = sorted(uid for made in studies.values() for uid in made)

    for win in windows:  # every arrival, each once
        qtbot.waitUntil(lambda win=win: shown(win) == expected, timeout=60_000)
    with Store(logins["alice"]) as store:
        recorded = [image.entry.meta.study_uid for image in store.images()]
        results = store.results(read_card(DEMO_MODEL).weights_sha256)
        scored = Counter(event.study_uid for event in store.audit() if event.action == "scored")
    assert sorted(recorded) == expected
    assert len(results) == len(expected)
    assert scored == Counter(expected)  # each study's result written once
