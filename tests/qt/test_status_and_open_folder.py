"""Issue #22, item 11 (parts): the status bar names the model in words a reader understands (nothing
while it loads), and Open Folder starts in the last folder opened (never the bundled samples), else
the home folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QFileDialog
from viewer_fakes import make_card

from inference.bundled import SAMPLES
from viewer.qt.model_thread import ModelInfo
from viewer.qt.status_widgets import model_details, model_text


@pytest.mark.parametrize(
    ("device", "precision", "backend", "said"),
    [
        ("cpu", "fp32", "onnx", "Model: fake-model 1.0 on the CPU"),
        ("cuda", "fp32", "torch", "Model: fake-model 1.0 on the GPU"),
        ("cuda", "bf16", "torch", "Model: fake-model 1.0 on the GPU, reduced precision (checked)"),
        ("cpu", "int8", "onnx", "Model: fake-model 1.0 on the CPU, reduced precision (checked)"),
    ],
)
def test_the_model_is_named_in_words_and_the_details_are_in_the_tooltip(device, precision, backend, said):
    info = ModelInfo(Path("pkg"), make_card(), device, precision, backend)
    assert model_text(info) == said
    details = model_details(info)
    assert precision in details and {"onnx": "ONNX Runtime", "torch": "PyTorch"}[backend] in details


def test_while_the_model_loads_the_status_bar_says_nothing_about_it(window):
    """The ``window`` fixture has loaded its model; a window before that says nothing untrue."""
    from viewer.qt.main_window import MainWindow

    fresh = MainWindow(window.session, window.settings)
    assert fresh.model_label.text() == ""
    assert window.model_label.text() == "Model: fake-model 1.0 on the CPU"
    assert "fp32" in window.model_label.toolTip()
    fresh.deleteLater()


@pytest.fixture
def folder_asked(monkeypatch):
    """The folder each Open Folder dialog started in (the dialog answers Cancel)."""
    started: list[str] = []

    def ask(_parent, _title, start=""):
        started.append(start)
        return ""

    monkeypatch.setattr(QFileDialog, "getExistingDirectory", ask)
    return started


def test_open_folder_starts_in_the_last_folder_opened_never_the_samples(window, tmp_path, folder_asked):
    opened = tmp_path / "ward-3"
    opened.mkdir()
    window.settings.recent_folders = [str(SAMPLES), str(tmp_path / "gone"), str(opened)]
    window.actions_.open_folder.trigger()
    assert folder_asked == [str(opened)]


def test_open_folder_starts_at_home_without_a_folder_opened(window, folder_asked):
    window.settings.recent_folders = [str(SAMPLES)]
    window.actions_.open_folder.trigger()
    window.settings.recent_folders = []
    window.actions_.open_folder.trigger()
    assert folder_asked == [str(Path.home())] * 2
