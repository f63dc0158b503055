"""Time for an arrival to reach a viewer's worklist (issue #23): from another connection's commit that
records a study to the row in an open viewer window's worklist, on a team store (the server's NOTIFY
wakes the viewer) beside a SQLite file (the viewer asks every 2.5 s), with the ratio.

The window is the product's (offscreen Qt, no model loaded: rows join the worklist before any
scoring). Without ``--db`` a throwaway PostgreSQL cluster is started as the tests start one.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/team_viewer.py [--db URL] [--arrivals N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from machine import cpu  # noqa: E402
from team_store import server  # noqa: E402

from inference.api import ImageMeta, ScanEntry  # noqa: E402
from inference.store import Store  # noqa: E402

GAP_S = 0.3  # between two arrivals: one at a time, so each one's time is its own


def arrival_times(target: str, arrivals: int, folder: Path) -> list[float]:
    """Milliseconds from each commit returning to the study's row in an open window's worklist."""
    from PySide6.QtWidgets import QApplication

    from viewer.core.settings import Settings
    from viewer.qt.engine_parts import EngineParts
    from viewer.qt.main_window import MainWindow
    from viewer.qt.session import TriageSession

    app = QApplication.instance() or QApplication([])
    Store(target).close()  # the schema, before the window and the writer
    window = MainWindow(TriageSession(EngineParts(), store=Store(target)), Settings(path=folder / "s.json"))
    window.show()
    committed: dict[str, float] = {}
    shown: dict[str, float] = {}
    model = window.session.worklist_model

    def on_rows(_parent, first: int, last: int) -> None:
        now = time.perf_counter()
        for row in model.worklist.rows[first : last + 1]:
            shown.setdefault(row.uid, now)
        if len(shown) >= arrivals:
            app.quit()

    model.rowsInserted.connect(on_rows)
    model.modelReset.connect(lambda: on_rows(None, 0, len(model.worklist.rows) - 1))

    def write() -> None:
        time.sleep(2.0)  # the window has started watching
        with Store(target) as writer:
            for i in range(arrivals):
                uid = f"arrival.{i}"
                writer.record([ScanEntry(ImageMeta(path=Path(f"/x/{uid}.dcm"), study_uid=uid))])
                committed[uid] = time.perf_counter()
                time.sleep(GAP_S if "://" in target else 2.6)  # SQLite: one poll each

    writer = threading.Thread(target=write)
    writer.start()
    app.exec()
    writer.join()
    window.close()
    return [(shown[uid] - committed[uid]) * 1000 for uid in committed]


def summary(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return f"median {statistics.median(values):7.1f} ms   p95 {p95:7.1f} ms   max {max(values):7.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--db", default=None, help="an administrator's postgresql:// URL (default: a cluster)"
    )
    parser.add_argument("--arrivals", type=int, default=50, help="on the team store (default 50)")
    parser.add_argument("--sqlite-arrivals", type=int, default=10, help="on a SQLite file (default 10)")
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    print(f"machine: {cpu()}")
    with tempfile.TemporaryDirectory() as folder:
        os.environ["CXR_TRIAGE_HOME"] = folder
        with server(args.db) as url:
            team = arrival_times(url, args.arrivals, Path(folder))
        sqlite = arrival_times(str(Path(folder) / "s.sqlite"), args.sqlite_arrivals, Path(folder))
    print("commit → row in an open viewer's worklist:")
    print(f"  PostgreSQL (NOTIFY), {len(team)} arrivals: {summary(team)}")
    print(f"  SQLite (2.5 s poll), {len(sqlite)} arrivals: {summary(sqlite)}")
    print(
        f"  ratio of medians (SQLite / PostgreSQL): {statistics.median(sqlite) / statistics.median(team):.1f}"
    )


if __name__ == "__main__":
    main()
