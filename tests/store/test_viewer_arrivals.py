"""Live arrivals in the viewer on a team store (issue #23, viewer item 4): the viewer is woken by the
server's NOTIFY (no 2.5 s poll, which stays for SQLite) and catches up after reconnecting; studies
three writers (other processes) commit at once, out of order, show in two viewers, none missed."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from postgres_cluster import Logins
from team_viewer import team_windows  # noqa: F401  (the fixture)

from viewer.core.worklist import RowState

WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from inference.api import ImageMeta, ScanEntry
    from inference.store import Store

    url, writer = sys.argv[1], sys.argv[2]
    with Store(url) as store:
        for batch in range(5):
            uids = [f"{writer}.{batch}.{n}" for n in range(2)]
            store.record([ScanEntry(ImageMeta(path=Path(f"/in/{uid}.dcm"), study_uid=uid)) for uid in uids])
    """
)


def test_arrivals_from_three_writers_show_in_two_viewers_none_missed(
    qtbot,
    team_windows,  # noqa: F811
    logins: Logins,
):
    alice = team_windows(logins["alice"], name="alice")
    bob = team_windows(logins["bob"], name="bob")
    for win in (alice, bob):
        assert not win.session.watcher.polls_on_a_timer  # told by the server, not asking every 2.5 s
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, logins["listen"], name])
        for name in ("w1", "w2", "w3")
    ]
    for writer in writers:
        assert writer.wait(timeout=120) == 0
    expected = {f"{w}.{b}.{n}" for w in ("w1", "w2", "w3") for b in range(5) for n in range(2)}

    def shown(win) -> set[str]:
        rows = win.session.worklist_model.worklist.rows
        return {row.uid for row in rows if row.state is RowState.SCORED}

    for win in (alice, bob):
        qtbot.waitUntil(lambda win=win: shown(win) == expected, timeout=30_000)
