"""Start-up times, side by side in one run: `import torch`, `cxr-triage --help`, an argument error, and
the viewer's first paint.

    .venv/bin/python bench/startup.py [--rounds 5]

Each is a fresh process, timed from its launch here to its exit (or, for the viewer, to the line it
prints when its main window has received its first paint event, offscreen, with the bundled demo
model loading on its thread as in `cxr-triage gui`, on a temporary store). Rounds alternate so that
machine noise hits all alike; medians are printed, and each time as a ratio of `import torch`'s.
Targets (issue #10): `--help` and argument errors under half of `import torch`; first paint < 2 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAINTED = "painted"

# The child for the first paint: the window `cxr-triage gui` opens, and a filter that prints on its
# first paint event and quits.
FIRST_PAINT = f"""
import sys
from pathlib import Path
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication
from viewer.gui import create_window

class FirstPaint(QObject):
    def eventFilter(self, watched, event):
        if event.type() == QEvent.Type.Paint:
            print({PAINTED!r}, flush=True)
            QTimer.singleShot(0, QApplication.quit)
        return False

app = QApplication(sys.argv[:1])
window = create_window(settings_path=Path(sys.argv[1]) / "settings.json", db=Path(sys.argv[1]) / "s.sqlite")
painted = FirstPaint()
window.installEventFilter(painted)
window.show()
app.exec()
window.close()
"""


def timed(command: list[str], until_line: str | None, env: dict[str, str]) -> float:
    """Seconds from launching ``command`` to its exit, or to the first stdout line ``until_line``."""
    start = time.perf_counter()
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
    ) as child:
        if until_line is not None:
            assert child.stdout is not None
            for line in child.stdout:
                if line.strip() == until_line:
                    elapsed = time.perf_counter() - start
                    child.wait(timeout=120)
                    return elapsed
        child.wait(timeout=120)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    python, cli = sys.executable, str(Path(sys.executable).with_name("cxr-triage"))
    tmp = Path(tempfile.mkdtemp(prefix="cxr-startup-"))
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", CXR_TRIAGE_HOME=str(tmp / "home"))
    runs = {
        "import torch": ([python, "-c", "import torch"], None),
        "cxr-triage --help": ([cli, "--help"], None),
        "argument error (triage --batch-size x)": ([cli, "triage", "--batch-size", "x"], None),
        "viewer, first paint": ([python, "-c", FIRST_PAINT, str(tmp)], PAINTED),
    }
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.rounds):
        for name, (command, until) in runs.items():
            times[name].append(timed(command, until, env))
    torch_s = statistics.median(times["import torch"])
    print(f"{'start-up, s (median of ' + str(args.rounds) + ')':40s} {'time':>7s} {'÷ import torch':>15s}")
    for name, seconds in times.items():
        median = statistics.median(seconds)
        print(f"{name:40s} {median:7.2f} {median / torch_s:15.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
