"""The whole viewer on the bundled samples with a real model: index, score, Grad-CAM, export.

Uses the bundled demo model when it is present, else a randomly initialised package (the pipeline
is the same; only the numbers differ).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtGui import QImage

from inference.bundled import DEMO_MODEL, SAMPLES
from viewer.core.worklist import RowState
from viewer.core.worklist_columns import Column

pytestmark = pytest.mark.slow


@pytest.fixture
def package(request) -> Path:
    if (DEMO_MODEL / "card.json").is_file() and (DEMO_MODEL / "model.safetensors").is_file():
        return DEMO_MODEL
    return request.getfixturevalue("random_package")


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch, package):
    monkeypatch.setenv("CXR_TRIAGE_HOME", str(tmp_path / "home"))
    from viewer.core.settings import Settings
    from viewer.qt.engine_parts import EngineParts
    from viewer.qt.main_window import MainWindow
    from viewer.qt.session import TriageSession

    settings = Settings(path=tmp_path / "settings.json", export_folder=str(tmp_path / "exports"))
    session = TriageSession(EngineParts(batch_size=4))
    win = MainWindow(session, settings, demo_package=DEMO_MODEL)
    qtbot.addWidget(win)
    win.resize(1400, 800)
    win.show()
    with qtbot.waitSignal(session.modelLoaded, timeout=120_000):
        win.load_model(package)
    yield win
    win.close()
    assert not session.model_thread._thread.is_alive()


def rgb(path: Path) -> np.ndarray:
    image = QImage(str(path)).convertToFormat(QImage.Format.Format_RGB888)
    bits = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine())
    return bits[:, : image.width() * 3].copy()


def test_samples_are_scored_explained_and_exported(qtbot, window, tmp_path, package):
    session, model = window.session, window.session.worklist_model
    window.open_paths([SAMPLES])
    qtbot.waitUntil(lambda: model.rowCount() > 0, timeout=30_000)
    qtbot.waitUntil(lambda: not session.busy, timeout=240_000)
    rows = model.worklist.rows
    assert len(rows) >= 10
    assert all(r.state not in (RowState.QUEUED, RowState.SCORING) for r in rows)
    scored = [r for r in rows if r.state is RowState.SCORED]
    assert len(scored) >= 8
    # The hip radiograph is listed, with its reason, and not scored.
    hip = [r for r in rows if r.meta.path.name == "RG2_JPLY_fixed.dcm"]
    assert hip and hip[0].state is RowState.NOT_SCORED and hip[0].reason
    status = model.index(model.row_of(hip[0].uid), Column.STATUS).data()
    assert status.startswith("not scored")
    assert [r.rank for r in rows] == list(range(1, len(rows) + 1))
    assert "Model:" in window.model_label.text()
    assert_scored_as_on_the_command_line(scored, package, tmp_path)

    window.worklist.select_uid(scored[0].uid)
    qtbot.waitUntil(lambda: window.image_view.image() is not None, timeout=30_000)
    window.display.select_finding(0)
    qtbot.waitUntil(lambda: window.image_view.heatmap() is not None, timeout=60_000)
    with qtbot.waitSignal(window.exports.imageExported, timeout=60_000) as exported:
        window.export_image()
    with_overlay = exported.args[0]
    assert with_overlay.suffix == ".png" and with_overlay.stat().st_size > 1000
    assert with_overlay.parent == tmp_path / "exports"
    assert str(with_overlay) in window.statusBar().currentMessage()
    heat = window.image_view.heatmap().values
    window.actions_.heatmap.trigger()
    with qtbot.waitSignal(window.exports.imageExported, timeout=60_000) as exported:
        window.export_image()
    without = exported.args[0]
    picture = window.image_view.image().pixels.shape[0]  # exports keep the image's full resolution
    if package == DEMO_MODEL:
        assert float(heat.max()) > 0.3  # a trained model's CAM has a hot spot
    if float(heat.max()) > 0.3:  # a random-weights CAM can be all zero: nothing to draw then
        assert not np.array_equal(rgb(with_overlay)[:picture], rgb(without)[:picture])
    csv_path, _ = window.export_worklist()
    assert csv_path.read_text().count("\n") == len(rows) + 1


def assert_scored_as_on_the_command_line(scored: list, package: Path, tmp_path: Path) -> None:
    """The viewer's probabilities are those of ``cxr-triage triage`` with its defaults, within 1e-6."""
    from inference.cli.main import main

    out, db = tmp_path / "cli", tmp_path / "cli.sqlite"
    assert main(["triage", str(SAMPLES), "--model", str(package), "--db", str(db), "--out", str(out)]) == 0
    cli = {s["study_uid"]: s for s in json.loads((out / "worklist.json").read_text())["studies"]}
    for row in scored:
        shown = [label for label in row.result.probabilities if label in cli[row.uid]]
        assert shown
        for label in shown:
            assert row.result.probabilities[label] == pytest.approx(cli[row.uid][label], abs=1e-6)
