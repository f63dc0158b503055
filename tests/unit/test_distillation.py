"""Distillation from a teacher package: the loss, its mix with the label loss, and a tiny run's card."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from inference.api import Preprocessing, Task
from inference.cli.commands import train as train_command
from inference.fit.train import run as run_module
from inference.fit.train.augment import AugmentConfig
from inference.fit.train.config import TrainConfig
from inference.fit.train.distillation import Distillation, distillation_loss, load_teacher
from inference.fit.train.loop import masked_bce, train_one_epoch
from inference.models.architectures import build
from inference.models.package import read_card, save_package

FIX = Path(__file__).parent.parent / "fixtures" / "train"
NAN = float("nan")


def _sigmoid(v: float) -> float:
    return 1 / (1 + math.exp(-v))


def _bce(logit: float, target: float) -> float:
    p = _sigmoid(logit)
    return -(target * math.log(p) + (1 - target) * math.log(1 - p))


def test_distillation_loss_is_the_temperature_scaled_soft_bce_over_annotated_entries():
    student = torch.tensor([[2.0, -1.0], [0.5, 3.0]])
    teacher = torch.tensor([[1.0, 4.0], [-2.0, 0.0]])
    targets = torch.tensor([[1.0, 0.0], [0.0, NAN]])  # the last entry is not annotated: left out
    t = 2.0
    by_hand = [_bce(s / t, _sigmoid(k / t)) for s, k in ((2.0, 1.0), (-1.0, 4.0), (0.5, -2.0))]
    expected = t * t * sum(by_hand) / 3
    assert float(distillation_loss(student, teacher, targets, t)) == pytest.approx(expected, rel=1e-6)


def _mix(weight: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(the mixed loss, the label loss alone) on a fixed example; student column 1 = teacher column 0."""
    distill = Distillation(torch.nn.Identity(), (1,), (0,), weight, 2.0)
    student = torch.tensor([[0.3, -1.2], [1.5, 0.7]])
    teacher = torch.tensor([[2.0, 9.0], [-1.0, 9.0]])
    y = torch.tensor([[1.0, 0.0], [NAN, 1.0]])
    hard = masked_bce(student, y, None, 0.0)
    return distill.mix(hard, student, teacher, y), hard


def test_weight_zero_gives_exactly_the_label_loss():
    mixed, hard = _mix(0.0)
    assert torch.equal(mixed, hard)


def test_mix_uses_the_shared_label_columns():
    mixed, hard = _mix(0.25)
    soft = distillation_loss(
        torch.tensor([[-1.2], [0.7]]), torch.tensor([[2.0], [-1.0]]), torch.tensor([[0.0], [1.0]]), 2.0
    )
    assert float(mixed) == pytest.approx(0.75 * float(hard) + 0.25 * float(soft), rel=1e-6)


class _Recorder(torch.nn.Module):
    """A one-output network that keeps every batch it is given."""

    def __init__(self) -> None:
        super().__init__()
        self.head = torch.nn.Linear(3, 1)
        self.seen: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append(x.clone())
        return self.head(x.mean((2, 3)))


def test_the_teacher_scores_the_same_augmented_batch_without_gradients():
    student, teacher = _Recorder(), _Recorder()
    teacher.requires_grad_(False)
    images = np.random.default_rng(0).integers(0, 255, (8, 40, 40), dtype=np.uint8)
    optimizer = torch.optim.SGD(student.parameters(), lr=0.1)
    train_one_epoch(
        student, images, np.ones((8, 1), np.float32), np.arange(8),
        loss_fn=lambda logits, y: masked_bce(logits, y, None, 0.0), optimizer=optimizer,
        scheduler=torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0), input_size=32,
        batch_size=4, rng=np.random.default_rng(1), aug=AugmentConfig(),
        distill=Distillation(teacher, (0,), (0,), 0.5, 2.0), log=lambda msg: None,
    )  # fmt: skip
    assert len(teacher.seen) == len(student.seen) == 2
    assert all(torch.equal(t, s) for t, s in zip(teacher.seen, student.seen, strict=True))
    assert teacher.head.weight.grad is None


def _config(tmp_path: Path, name: str, labels: tuple[str, ...], epochs: int = 1, **kw) -> TrainConfig:
    return TrainConfig(
        data=[f"nih={FIX / 'nih' / 'labels.csv'}", f"kermany={FIX / 'kermany'}"],
        class_map={"NORMAL": "", "PNEUMONIA": "Pneumonia"}, labels=labels, out=tmp_path / name,
        work=tmp_path / f"{name}-work", input_size=32, batch_size=4, val_fraction=0.3,
        test_fraction=0.0, min_positives=1, threads=1, n_boot=20, name=name, epochs=epochs, **kw,
    )  # fmt: skip


@pytest.fixture(scope="module")
def teacher(tmp_path_factory) -> Path:
    """A tiny EfficientNet-Lite0 teacher whose labels only partly overlap the student's."""
    tmp = tmp_path_factory.mktemp("teacher")
    run_module.train(_config(tmp, "tiny-teacher", ("Effusion", "Pneumonia"), arch="efficientnet_lite0"))
    return tmp / "tiny-teacher"


def test_a_distilled_run_names_its_teacher_on_the_card(tmp_path: Path, teacher: Path):
    card = run_module.train(
        _config(tmp_path, "student", ("Pneumonia", "Infiltration"), teacher=teacher, distill_weight=0.7)
    )
    recorded = card.metrics["distillation"]
    assert recorded == {
        "teacher": "tiny-teacher", "teacher_version": "0.1.0",
        "teacher_weights_sha256": read_card(teacher).weights_sha256, "weight": 0.7, "temperature": 2.0,
    }  # fmt: skip
    saved = json.loads((tmp_path / "student" / "card.json").read_text(encoding="utf-8"))
    assert saved["metrics"]["distillation"] == recorded
    shown = (tmp_path / "student" / "card.md").read_text(encoding="utf-8")
    assert "- Distilled from: tiny-teacher 0.1.0 (weights sha256 `" in shown
    assert "distilling from" in (tmp_path / "student-work" / "train.log").read_text()


def test_an_interrupted_distilled_run_resumes_with_the_teacher_reloaded(tmp_path, teacher, monkeypatch):
    real_save = run_module.save_checkpoint

    def save_then_crash(*args, **kw):
        real_save(*args, **kw)
        raise KeyboardInterrupt  # right after epoch 1 is saved

    monkeypatch.setattr(run_module, "save_checkpoint", save_then_crash)
    with pytest.raises(KeyboardInterrupt):
        run_module.train(_config(tmp_path, "student", ("Pneumonia",), teacher=teacher, epochs=2))
    monkeypatch.setattr(run_module, "save_checkpoint", real_save)
    card = run_module.train(
        _config(tmp_path, "student", ("Pneumonia",), teacher=teacher, epochs=2, resume=True)
    )
    log = (tmp_path / "student-work" / "train.log").read_text()
    assert "resumed after epoch 1" in log and log.count("distilling from") == 2
    assert card.metrics["epochs"] == 2 and card.metrics["distillation"]["teacher"] == "tiny-teacher"


def test_the_teacher_maps_onto_the_students_labels_by_name(teacher: Path):
    distill = load_teacher(teacher, ("Infiltration", "Pneumonia"), Task.MULTILABEL, 0.5, 2.0)
    assert (distill.student_columns, distill.teacher_columns) == ((1,), (1,))
    assert not distill.teacher.training
    assert not any(p.requires_grad for p in distill.teacher.parameters())


@pytest.mark.parametrize(
    ("labels", "task", "weight", "temperature", "message"),
    [
        (("Edema",), Task.MULTILABEL, 0.5, 2.0, "has none of the labels ['Edema']"),
        (("Pneumonia",), Task.MULTICLASS, 0.5, 2.0, "must both be multi-label"),
        (("Pneumonia",), Task.MULTILABEL, 1.5, 2.0, "--distill-weight must be between 0 and 1"),
        (("Pneumonia",), Task.MULTILABEL, 0.5, 0.0, "--distill-temperature must be positive"),
    ],
)
def test_unusable_teachers_are_refused_with_the_reason(teacher, labels, task, weight, temperature, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_teacher(teacher, labels, task, weight, temperature)


def test_a_teacher_that_takes_other_inputs_is_refused(teacher: Path, tmp_path: Path):
    card = dataclasses.replace(read_card(teacher), preprocessing=Preprocessing.XRV)
    save_package(tmp_path / "xrv", card, build("efficientnet_lite0", len(card.labels), in_channels=1))
    with pytest.raises(ValueError, match="takes xrv inputs"):
        load_teacher(tmp_path / "xrv", ("Pneumonia",), Task.MULTILABEL, 0.5, 2.0)


def test_without_teacher_options_a_command_line_trains_as_before():
    parser = argparse.ArgumentParser()
    train_command.register(parser.add_subparsers())
    args = parser.parse_args(["train", "--data", "x.csv", "--out", "pkg"])
    cfg = train_command.config_from_args(args)
    assert cfg.teacher is None and "teacher" not in cfg.recipe and "distill" not in cfg.recipe
    with_teacher = parser.parse_args(["train", "--data", "x.csv", "--out", "pkg", "--teacher", "t"])
    assert "--teacher t" in train_command.config_from_args(with_teacher).recipe
