"""``cxr-triage gui --smoke-screenshot PNG``: the viewer opened as usual, saved as a PNG once the model
has loaded and the worklist is scored, then exit 0; exit 1 with one line on stderr when the model does
not load, scoring stops with an error, the PNG cannot be written or the time limit passes.

Two runs of the real command (the bundled model, two bundled samples; a folder of unreadable files),
the failures on the fake back end, in this process."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtGui import QImage

from inference.bundled import SAMPLES
from viewer import app, gui
from viewer.qt import smoke_screenshot

REPO = Path(__file__).resolve().parents[2]
TWO_SAMPLES = ("00000001_000.png", "CR_chest_SIIM_jpegbaseline_8bit.dcm")


def smoke_command(png: Path, db: Path, folder: Path) -> subprocess.CompletedProcess[str]:
    """``python -m viewer.app gui --smoke-screenshot PNG --db DB FOLDER`` in a fresh interpreter, with
    this test's data folder (``CXR_TRIAGE_HOME``, set by the fixtures) and no screen."""
    command = [sys.executable, "-m", "viewer.app", "gui", "--smoke-screenshot", str(png), "--db", str(db)]
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.run(
        [*command, str(folder)], cwd=REPO, env=env, capture_output=True, text=True, timeout=150
    )


def pixels(png: Path) -> np.ndarray:
    image = QImage(str(png)).convertToFormat(QImage.Format.Format_RGB888)
    assert not image.isNull()
    bits = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine())
    return bits[:, : image.width() * 3].copy()  # the image's memory goes with it


def test_the_viewer_scores_two_samples_saves_its_window_and_exits_0(qapp, tmp_path: Path) -> None:
    folder = tmp_path / "studies"
    folder.mkdir()
    for name in TWO_SAMPLES:
        shutil.copy(SAMPLES / name, folder / name)
    png, db = tmp_path / "shots" / "window.png", tmp_path / "studies.sqlite"
    run = smoke_command(png, db, folder)
    assert run.returncode == 0, run.stderr
    assert f"Screenshot saved to {png} (2 studies, 2 scored)." in run.stdout
    shown = pixels(png)
    assert shown.shape[0] > 300 and shown.shape[1] > 3 * 300
    assert len(np.unique(shown.reshape(-1, 3)[::7], axis=0)) > 50  # a window with a radiograph in it
    assert db.is_file()  # the usual store, as given


def test_a_folder_of_unreadable_files_is_listed_and_still_exits_0(qapp, tmp_path: Path) -> None:
    """Files the viewer cannot read are error rows, as always: the installation works (the model loaded
    and passed its parity probe, the window drew the worklist), so the smoke check passes."""
    folder = tmp_path / "studies"
    folder.mkdir()
    (folder / "noise.dcm").write_bytes(bytes(range(256)) * 8)
    (folder / "text.png").write_text("not a picture")
    (folder / "cut.png").write_bytes((SAMPLES / TWO_SAMPLES[0]).read_bytes()[:400])
    png = tmp_path / "window.png"
    run = smoke_command(png, tmp_path / "studies.sqlite", folder)
    assert run.returncode == 0, run.stderr
    assert f"Screenshot saved to {png} (3 studies, 0 scored)." in run.stdout
    assert len(np.unique(pixels(png).reshape(-1, 3)[::7], axis=0)) > 2


def test_the_time_limits_agree_and_the_option_takes_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    assert app.SMOKE_LIMIT_S == gui.SMOKE_LIMIT_S
    calls: list[dict] = []
    monkeypatch.setattr(gui, "main", lambda paths, **kwargs: calls.append(kwargs) or 0)
    assert app.main(["gui", "x", "--smoke-screenshot", "s.png", "--smoke-timeout", "30"]) == 0
    assert calls == [{"db": None, "smoke_screenshot": Path("s.png"), "smoke_limit_s": 30.0}]
    with pytest.raises(SystemExit):
        app.main(["gui", "--smoke-screenshot", "s.png", "--smoke-timeout", "0"])


# -- the failures, on the fake back end --------------------------------------------------------------
@pytest.fixture
def smoke(qtbot, tmp_path):
    """Runs :class:`smoke_screenshot.SmokeScreenshot` on a window of the given back end opened on ``folder``
    (the fake scan: "N" is N studies); returns (exit code, the window). Windows are closed after."""
    windows = []

    def run(backend, png: Path, folder: str = "3", limit_s: float = 30, load: bool = True):
        window = gui.create_window(
            tmp_path / "settings.json", backend, load_model=False, db=tmp_path / "s.db"
        )
        qtbot.addWidget(window)
        windows.append(window)
        codes: list[int] = []
        smoke_screenshot.SmokeScreenshot(window, png, limit_s, codes.append)
        window.show()
        window.open_paths([tmp_path / folder])
        if load:
            window.load_model(tmp_path / "fake-package")
        qtbot.waitUntil(lambda: bool(codes), timeout=10_000)
        return codes, window

    yield run
    for window in windows:
        window.close()


def test_on_the_fake_back_end_the_shown_study_is_saved(smoke, backend, tmp_path, capsys) -> None:
    codes, window = smoke(backend, tmp_path / "w.png")
    assert codes == [0]
    assert window.image_view.image() is not None and window.current_row().rank == 1
    assert QImage(str(tmp_path / "w.png")).size() == window.size()
    assert capsys.readouterr().err == ""


def test_a_model_that_does_not_load_fails_with_one_line(smoke, backend, tmp_path, capsys) -> None:
    def refuse(package, device):
        raise ValueError("weights do not match the card (test)")

    codes, _ = smoke(dataclasses.replace(backend, loader=refuse), tmp_path / "w.png")
    assert codes == [smoke_screenshot.EXIT_SMOKE_FAILED] == [1]
    err = capsys.readouterr().err
    assert err.startswith("cxr-triage: smoke screenshot failed: the model did not load: ")
    assert "weights do not match the card (test)" in err and err.count("\n") == 1
    assert not (tmp_path / "w.png").exists()


def test_scoring_that_stops_fails_with_one_line(smoke, backend, tmp_path, capsys) -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("out of memory (test)")
        yield

    codes, _ = smoke(dataclasses.replace(backend, scorer=broken), tmp_path / "w.png")
    assert codes == [1]
    err = capsys.readouterr().err
    assert err.startswith("cxr-triage: smoke screenshot failed: scoring stopped: ")
    assert "out of memory (test)" in err and err.count("\n") == 1


def test_a_png_that_cannot_be_written_fails_with_one_line(smoke, backend, tmp_path, capsys) -> None:
    (tmp_path / "a-file").write_text("")
    codes, _ = smoke(backend, tmp_path / "a-file" / "w.png")  # its folder is a file: works as root too
    assert codes == [1]
    err = capsys.readouterr().err
    assert err.startswith(
        f"cxr-triage: smoke screenshot failed: cannot write {tmp_path / 'a-file' / 'w.png'}: "
    )
    assert err.count("\n") == 1


def test_the_time_limit_ends_it_saying_what_it_waited_for(smoke, backend, tmp_path, capsys) -> None:
    codes, _ = smoke(backend, tmp_path / "w.png", limit_s=0.2, load=False)
    assert codes == [1]
    assert capsys.readouterr().err == (
        "cxr-triage: smoke screenshot failed: not ready after 0.2 s: waiting for the model to load\n"
    )
