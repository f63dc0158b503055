"""Issue #22, problem 2, in a real X server: ``cxr-triage gui`` under Xvfb (1280×800, at 100% and at
150%: QT_SCALE_FACTOR=1.5) on a folder with a
chest radiograph, an image the safety gate stops and a corrupt DICOM, driven with xdotool as a reader
would (a click on the worklist, then ↓), with the bundled demo model. The panes must not move.

The viewer writes its panes' sizes as the shown study changes (``--smoke-layout``); xdotool reads the
window's geometry. Skipped without Xvfb and xdotool, unless CI=true: there it fails (``.ci/run``
installs both).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter

from inference.bundled import SAMPLES

TOOLS = ("Xvfb", "xdotool")
SCREEN = (1280, 800)
LIMIT_S = 90.0  # model load and scoring of three images on two busy cores


def require_tools() -> None:
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing and os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but {', '.join(missing)} missing (.ci/run installs xvfb and xdotool)")
    if missing:
        pytest.skip(f"needs {', '.join(missing)}")


def studies(folder: Path) -> Path:
    """A radiograph, a checkerboard (the safety gate stops it: far from any chest film) and a DICOM
    whose header is cut short (an error row)."""
    folder.mkdir()
    shutil.copy(SAMPLES / "00000001_000.png", folder / "chest.png")
    y, x = np.mgrid[0:512, 0:512]
    board = Image.fromarray((((x // 64) + (y // 64)) % 2 * 200 + 20).astype(np.uint8))
    board.filter(ImageFilter.GaussianBlur(2)).save(folder / "checkerboard.png")
    (folder / "corrupt.dcm").write_bytes(b"\0" * 128 + b"DICM" + b"cut short" * 40)
    return folder


@pytest.fixture
def display(tmp_path) -> Iterator[str]:
    """A fresh Xvfb screen of SCREEN; its display name."""
    require_tools()
    read, write = os.pipe()
    size = "x".join(map(str, SCREEN))
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", f"{size}x24", "-nolisten", "tcp"],
        pass_fds=(write,),
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    with os.fdopen(read) as numbers:
        number = numbers.readline().strip()
    try:
        assert number, "Xvfb did not start"
        yield f":{number}"
    finally:
        server.terminate()
        server.wait(10)


def wait_for(what: str, found: Callable[[], object], limit_s: float = LIMIT_S) -> object:
    """Poll ``found`` until it answers (bounded, as the app runs in another process)."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        answer = found()
        if answer:
            return answer
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.parametrize("scale", [1.0, 1.5], ids=["100%", "150%"])
def test_the_panes_hold_still_as_a_reader_walks_the_worklist(tmp_path, display, scale):
    folder = studies(tmp_path / "studies")
    log = tmp_path / "layout.jsonl"
    env = {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb", "QT_SCALE_FACTOR": str(scale)}
    env["CXR_TRIAGE_HOME"] = str(tmp_path / "home")
    env.pop("CXR_TRIAGE_DB", None)
    command = [
        sys.executable,
        "-m",
        "viewer.app",
        "gui",
        str(folder),
        "--db",
        str(tmp_path / "studies.sqlite"),
    ]
    app = subprocess.Popen([*command, "--smoke-layout", str(log)], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)  # fmt: skip

    def xdotool(*args: str) -> str:
        done = subprocess.run(["xdotool", *args], env=env, capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def lines() -> list[dict]:
        return [json.loads(x) for x in log.read_text().splitlines()] if log.exists() else []

    def geometry(window: str) -> str:
        return xdotool("getwindowgeometry", window).split("\n", 1)[1]  # position and size

    try:
        window = xdotool("search", "--sync", "--onlyvisible", "--name", "^CXR Triage$").split()[0]
        ready = wait_for(
            "the three studies scored", lambda: [x for x in lines() if x["rows"] == 3 and not x["busy"]]
        )
        settled = ready[-1]
        assert settled["window"][0] * scale <= SCREEN[0]  # the window fits the screen it opened on
        before = geometry(window)
        xdotool("windowfocus", "--sync", window)
        x, y, _, _ = (round(v * scale) for v in settled["worklist"])  # Qt's logical pixels, scaled
        row = round(settled["row_height"] * scale)
        xdotool("mousemove", "--sync", str(x + 40), str(y + row // 2), "click", "1")
        seen = {settled["uid"]: settled}  # rank 1, opened by the window itself
        while len(seen) < 3:  # ↓ to each other study
            count = len(lines())
            xdotool("key", "Down")
            news = wait_for(
                "the next study", lambda count=count: [x for x in lines()[count:] if x["uid"] not in seen], 20
            )
            seen[news[-1]["uid"]] = news[-1]
        states = {(line["state"], line["gated"]) for line in seen.values()}
        assert ("not scored", True) in states and ("error", False) in states, states
        since = lines()[lines().index(settled) :]
        assert {json.dumps([x["panes"], x["right"], x["window"]]) for x in since} == {
            json.dumps([settled["panes"], settled["right"], settled["window"]])
        }  # not one pixel moved, whichever study was shown
        assert geometry(window) == before
        xdotool("key", "ctrl+q")
        assert app.wait(30) == 0
    finally:
        if app.poll() is None:
            app.kill()
        app.wait(10)
