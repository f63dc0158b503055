"""Render the main window offscreen on the bundled samples after scoring; save docs/screenshot.png.

    .venv/bin/python scripts/screenshot.py [--model PACKAGE] [--out docs/screenshot.png] [--size WxH]
        [--compare-similar] [--select-rank N]

With QT_SCALE_FACTOR=1.5 and --size 1067x667 it shows a 1600x1000 screen at 150% scaling.

Settings go to a temporary folder, never the user's.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def wait_until(app, condition, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        app.processEvents()
        if condition():
            return True
        time.sleep(0.02)
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None, help="model package (default: the bundled demo)")
    parser.add_argument("--samples", type=Path, default=None, help="folder (default: the samples)")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshot.png")
    parser.add_argument("--size", default="1920x1080", help="window size WxH")
    parser.add_argument("--select-rank", type=int, default=0, help="show the study at this rank instead")
    parser.add_argument(
        "--compare-similar", action="store_true", help="open the most similar study beside the one shown"
    )
    args = parser.parse_args(argv)
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    os.environ["CXR_TRIAGE_HOME"] = tempfile.mkdtemp(prefix="cxr-screenshot-")

    from PySide6.QtWidgets import QApplication

    from inference.bundled import DEMO_MODEL, SAMPLES
    from viewer.core.worklist import RowState
    from viewer.gui import create_window

    package = args.model or DEMO_MODEL
    if not (package / "card.json").is_file():
        print(f"no model package at {package}; pass --model", file=sys.stderr)
        return 1
    app = QApplication.instance() or QApplication([])
    window = create_window(load_model=False)
    width, height = (int(v) for v in args.size.split("x"))
    window.resize(width, height)
    window.show()
    window.load_model(package)
    if not wait_until(app, lambda: window.session.info is not None, 180):
        print("model did not load", file=sys.stderr)
        return 1
    window.open_paths([args.samples or SAMPLES])
    session = window.session
    if not wait_until(app, lambda: session.worklist_model.rowCount() > 0 and not session.busy, 600):
        print("scoring did not finish", file=sys.stderr)
        return 1
    top = next((r for r in session.worklist_model.worklist.rows if r.state is RowState.SCORED), None)
    if top is not None:
        window.worklist.select_uid(top.uid)
        wait_until(app, lambda: window.image_view.image() is not None, 60)
        window.select_finding_named(top.top_finding)
        wait_until(app, lambda: window.image_view.heatmap() is not None, 120)
    if args.select_rank:
        uid = window.worklist.proxy.uid_at(args.select_rank - 1)
        if uid is None:
            print(f"no study at rank {args.select_rank}", file=sys.stderr)
            return 1
        window.worklist.select_uid(uid)
        wait_until(app, lambda: False, 2.0)  # its image or its message
    if args.compare_similar:
        from viewer.qt.similar_panel import UID_ROLE

        listed = window.similar.list
        if not wait_until(app, lambda: listed.count() > 0, 120):
            print("no similar study was found", file=sys.stderr)
            return 1
        window.compare.compare_with_similar(str(listed.item(0).data(UID_ROLE)))
        wait_until(app, lambda: window.compare_pane.image_view.image() is not None, 60)
    wait_until(app, lambda: False, 0.5)  # let the last repaint land
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if not window.grab().save(str(args.out)):
        print(f"could not write {args.out}", file=sys.stderr)
        return 1
    print(args.out)
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
