"""``cxr-triage`` dispatch: ``gui`` is a real command, typos are misuse, Ctrl+C ends quietly."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

import viewer.gui
from inference.cli.main import COMMANDS, EXIT_INTERRUPTED
from viewer import app

PROBE = """
import json, sys
import viewer.gui
viewer.gui.main = lambda paths, db=None: print("GUI", json.dumps(paths)) or 0  # stands in for the window
from viewer.app import main
try:
    code = main({argv!r})
except SystemExit as exc:
    code = exc.code
heavy = {{"PySide6", "torch", "torchvision", "captum", "matplotlib", "onnxruntime"}}
heavy = sorted({{name.split(".")[0] for name in sys.modules}} & heavy)
print(json.dumps({{"code": code, "heavy": heavy}}))
"""


def run_app(argv: list[str]) -> tuple[int, list[str], str, str]:
    """``viewer.app.main(argv)`` in a fresh interpreter, the window stubbed out: exit code, heavy
    modules loaded, stdout, stderr."""
    command = [sys.executable, "-c", PROBE.format(argv=argv)]
    out = subprocess.run(command, capture_output=True, text=True, timeout=300, check=True)
    *printed, last = out.stdout.splitlines()
    result = json.loads(last)
    return result["code"], result["heavy"], "\n".join(printed), out.stderr


def test_a_mistyped_command_is_misuse_listing_the_commands_without_starting_qt() -> None:
    code, heavy, out, err = run_app(["tirage", "x"])
    assert (code, out) == (2, "")
    assert "invalid choice: 'tirage'" in err
    assert all(f"'{name}'" in err for name in (*COMMANDS, "gui"))
    assert heavy == []  # the parser is built from light modules


def test_help_lists_gui_without_importing_qt_torch_or_matplotlib() -> None:
    code, heavy, out, _ = run_app(["--help"])
    assert code == 0
    assert any(line.split()[:1] == ["gui"] for line in out.splitlines())
    assert heavy == []


def test_no_arguments_open_the_viewer_on_the_store_alone_without_torch_or_qt() -> None:
    code, heavy, out, _ = run_app([])
    assert code == 0
    assert out == "GUI []"  # the bundled samples only when asked (issue #22, problem 4)
    assert heavy == []  # the window starts before the model thread imports torch


@pytest.mark.parametrize(
    ("argv", "paths", "db"),
    [
        ([], [], None),
        (["gui"], [], None),
        (["gui", "a", "b", "--db", "s.sqlite"], ["a", "b"], Path("s.sqlite")),
    ],
)
def test_gui_entry_gets_the_paths_and_the_store(
    monkeypatch: pytest.MonkeyPatch, argv: list[str], paths: list[str], db: Path | None
) -> None:
    opened: list[tuple[list[str], Path | None]] = []

    def open_window(paths: list[str], db: Path | None = None) -> int:
        opened.append((paths, db))
        return 0

    monkeypatch.setattr(viewer.gui, "main", open_window)
    assert app.main(argv) == 0
    assert opened == [(paths, db)]


def test_ctrl_c_while_importing_a_command_exits_130_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(name: str) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(importlib, "import_module", interrupted)
    try:
        code = app.main(["triage", "x"])
    except KeyboardInterrupt:
        pytest.fail("KeyboardInterrupt escaped main")
    assert code == EXIT_INTERRUPTED
    assert capsys.readouterr().err == "cxr-triage: interrupted.\n"
