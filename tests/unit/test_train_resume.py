"""An interrupted run resumes at the next epoch with the optimizer state it had."""

from __future__ import annotations

from pathlib import Path

import pytest

from inference.fit.train import run as run_module
from inference.fit.train.checkpoint import LAST, load_checkpoint
from inference.models.package import load_package

FIX = Path(__file__).parent.parent / "fixtures" / "train"


def test_resume_after_interruption(tmp_path, monkeypatch, tiny_training):
    real_save = run_module.save_checkpoint
    calls = []

    def save_then_crash(*args, **kw):
        real_save(*args, **kw)
        calls.append(kw["epoch"])
        raise KeyboardInterrupt  # the power goes off right after epoch 1 is saved

    monkeypatch.setattr(run_module, "save_checkpoint", save_then_crash)
    with pytest.raises(KeyboardInterrupt):
        run_module.train(tiny_training(tmp_path))
    first = load_checkpoint(tmp_path / "work" / LAST)
    assert first["epoch"] == 0 and len(first["history"]) == 1
    steps_one_epoch = first["optimizer"]["state"][0]["step"]

    monkeypatch.setattr(run_module, "save_checkpoint", real_save)
    card = run_module.train(tiny_training(tmp_path, resume=True))
    state = load_checkpoint(tmp_path / "work" / LAST)
    assert state["epoch"] == 1 and [h["epoch"] for h in state["history"]] == [1, 2]
    assert state["optimizer"]["state"][0]["step"] == 2 * steps_one_epoch  # Adam moments carried over
    assert state["scheduler"]["last_epoch"] == 2 * int(steps_one_epoch)
    assert "resumed after epoch 1" in (tmp_path / "work" / "train.log").read_text()
    assert card.task.value == "multiclass" and [lab.name for lab in card.labels] == ["NORMAL", "PNEUMONIA"]
    loaded, _ = load_package(tmp_path / "pkg")
    assert loaded.weights_sha256 == card.weights_sha256
