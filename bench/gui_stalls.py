"""Does the viewer's event loop stall while it scores a worklist? Longest stall and time to first row.

    .venv/bin/python bench/gui_stalls.py [--studies 200] [--model DIR] [--profile]

Opens the offscreen main window on a temporary store, loads the model, then opens a folder of
``--studies`` distinct images made from the bundled PNG/JPEG samples (each altered in one pixel, so
each is its own study) and lets it score them all. A precise 5 ms QTimer on the GUI thread records
the gaps between its ticks: a gap of G ms means the event loop could not run for about G − 5 ms.
Prints the longest gap while the model loads and while the worklist is indexed and scored, how
many gaps exceed the 50 ms target, the time from "open" to the first scored row, and to the last.
``--profile`` runs cProfile on the GUI thread only (it profiles the thread it is enabled in) and
prints the functions with the most cumulative time: where a stall comes from.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cv2

TARGET_MS = 50.0
TICK_MS = 5


def make_studies(folder: Path, count: int, samples: Path) -> Path:
    """``count`` distinct 8-bit grey PNGs from the bundled PNG/JPEG samples."""
    bases = [cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in sorted(samples.iterdir())
             if p.suffix.lower() in (".png", ".jpg", ".jpeg")]  # fmt: skip
    folder.mkdir()
    for i in range(count):
        image = bases[i % len(bases)].copy()
        image[0, 0], image[0, 1] = i % 256, i // 256  # a different file content: a different study
        cv2.imwrite(str(folder / f"study_{i:04d}.png"), image)
    return folder


class StallMeter:
    """Gaps between the ticks of a precise timer on the GUI thread, per phase."""

    def __init__(self) -> None:
        from PySide6.QtCore import Qt, QTimer

        self.gaps: dict[str, list[float]] = {}
        self.phase = "start"
        self._last = time.perf_counter()
        self._timer = QTimer()
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._tick)
        self._timer.start(TICK_MS)

    def _tick(self) -> None:
        now = time.perf_counter()
        self.gaps.setdefault(self.phase, []).append(1000 * (now - self._last))
        self._last = now

    def stop(self) -> None:
        self._timer.stop()


def run_until(
    app, done: Callable[[], bool], timeout_s: float, on_tick: Callable[[], None] = lambda: None
) -> bool:
    """Run the event loop until ``done()`` (checked every 20 ms) or ``timeout_s``; True when done."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    check = QTimer()
    check.timeout.connect(lambda: (on_tick(), done() and loop.quit()))
    check.start(20)
    QTimer.singleShot(int(timeout_s * 1000), loop.quit)
    loop.exec()
    check.stop()
    return done()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--studies", type=int, default=200)
    parser.add_argument("--model", type=Path, default=None, help="model package (default: the bundled demo)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds to wait for the scoring")
    parser.add_argument("--profile", action="store_true", help="cProfile the GUI thread")
    args = parser.parse_args()
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    tmp = Path(tempfile.mkdtemp(prefix="cxr-gui-stalls-"))
    os.environ["CXR_TRIAGE_HOME"] = str(tmp / "home")

    from PySide6.QtWidgets import QApplication

    from inference.bundled import DEMO_MODEL, SAMPLES
    from viewer.core.worklist import RowState
    from viewer.gui import create_window

    folder = make_studies(tmp / "studies", args.studies, SAMPLES)
    app = QApplication.instance() or QApplication([])
    window = create_window(settings_path=tmp / "settings.json", load_model=False, db=tmp / "studies.sqlite")
    window.resize(1600, 1000)
    window.show()
    session = window.session
    profiler = cProfile.Profile() if args.profile else None
    if profiler is not None:
        profiler.enable()
    meter = StallMeter()
    meter.phase = "model loading"
    window.load_model(args.model or DEMO_MODEL)
    if not run_until(app, lambda: session.info is not None, 300):
        print("the model did not load", file=sys.stderr)
        return 1
    meter.phase = "indexing and scoring"
    opened = time.perf_counter()
    first: list[float] = []

    def scored_rows() -> int:
        return sum(r.state is RowState.SCORED for r in session.worklist_model.worklist.rows)

    def note_first() -> None:
        if not first and scored_rows():
            first.append(time.perf_counter() - opened)

    window.open_paths([folder])
    finished = run_until(
        app,
        lambda: session.worklist_model.rowCount() >= args.studies and not session.busy,
        args.timeout,
        note_first,
    )
    total = time.perf_counter() - opened
    meter.stop()
    if profiler is not None:
        profiler.disable()
    report(meter, scored_rows(), args.studies, first, total, finished)
    if profiler is not None:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    window.close()
    return 0 if finished else 1


def report(
    meter: StallMeter, scored: int, studies: int, first: list[float], total: float, finished: bool
) -> None:
    print(f"studies scored: {scored}/{studies}{'' if finished else ' (timed out)'}")
    print(f"time to first scored row: {first[0]:.2f} s" if first else "no row was scored")
    print(f"time to the last: {total:.1f} s")
    for phase, gaps in meter.gaps.items():
        over = sum(g > TARGET_MS for g in gaps)
        print(f"{phase:22s} longest stall {max(gaps) - TICK_MS:7.1f} ms   p99 gap "
              f"{statistics.quantiles(gaps, n=100)[98]:6.1f} ms   gaps > {TARGET_MS:.0f} ms: {over}"
              f" of {len(gaps)} ticks")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
