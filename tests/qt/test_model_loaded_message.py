"""The message on loading a model names the device as the status bar does ("on the CPU", "on the
GPU"), never by its raw name ("on cpu")."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(("device", "words"), [("cpu", "the CPU"), ("cuda", "the GPU")])
def test_the_loaded_message_says_where_the_model_runs_in_words(qtbot, window, fake_service, tmp_path,
                                                                device, words):  # fmt: skip
    fake_service.device = device
    with qtbot.waitSignal(window.session.modelLoaded, timeout=5000):
        window.load_model(tmp_path / "another-package")
    assert window.statusBar().currentMessage() == f"Loaded fake-model 1.0 on {words}"
    assert window.model_label.text() == f"Model: fake-model 1.0 on {words}"
