"""Knowledge distillation: a teacher package scores the student's training batches, and the student
learns from its softened outputs as well as from the labels (``cxr-triage train --teacher``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from inference.api import Preprocessing, Task
from inference.fit.train.config import TrainConfig
from inference.models.package import load_package, read_card


def distillation_loss(
    student_logits: torch.Tensor, teacher_logits: torch.Tensor, targets: torch.Tensor, temperature: float
) -> torch.Tensor:
    """T² × BCE of ``student_logits``/T against sigmoid(``teacher_logits``/T), over the entries the
    hard loss sees (targets not NaN): where a source does not annotate a label, the teacher was not
    trained on it either (it saw the same mask), so its output there is a guess, not knowledge."""
    mask = ~torch.isnan(targets)
    soft = torch.sigmoid(teacher_logits / temperature)
    loss = F.binary_cross_entropy_with_logits(student_logits / temperature, soft, reduction="none")
    return temperature**2 * (loss * mask).sum() / mask.sum().clamp(min=1)


@dataclass(frozen=True)
class Distillation:
    """A teacher (eval mode, no gradients) and how its outputs map onto the student's, by label name."""

    teacher: torch.nn.Module
    student_columns: tuple[int, ...]
    teacher_columns: tuple[int, ...]
    weight: float  # of the distillation term; the hard loss gets 1 - weight
    temperature: float

    def teacher_logits(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.teacher(x)

    def mix(
        self, hard: torch.Tensor, student_logits: torch.Tensor, teacher_logits: torch.Tensor, y: torch.Tensor
    ) -> torch.Tensor:
        """(1 − weight) × the hard loss + weight × :func:`distillation_loss` on the shared outputs."""
        s, t = list(self.student_columns), list(self.teacher_columns)
        soft = distillation_loss(student_logits[:, s], teacher_logits[:, t], y[:, s], self.temperature)
        return (1.0 - self.weight) * hard + self.weight * soft


def load_teacher(
    package: Path, labels: tuple[str, ...], task: Task, weight: float, temperature: float
) -> Distillation:
    """The teacher package as a :class:`Distillation` of a multi-label student with ``labels``."""
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"--distill-weight must be between 0 and 1, got {weight}")
    if temperature <= 0:
        raise ValueError(f"--distill-temperature must be positive, got {temperature}")
    card, teacher = load_package(package)
    if card.preprocessing is not Preprocessing.CHEXNET:
        raise ValueError(
            f"the teacher {package} takes {card.preprocessing.value} inputs, but it scores the student's "
            f"training batches ({Preprocessing.CHEXNET.value} preprocessing)"
        )
    if task is not Task.MULTILABEL or card.task is not Task.MULTILABEL:
        raise ValueError(
            f"--teacher distils sigmoid outputs: the student (task {task.value}) and the teacher {package} "
            f"(task {card.task.value}) must both be multi-label"
        )
    names = [lab.name for lab in card.labels]
    shared = [name for name in labels if name in names]
    if not shared:
        raise ValueError(f"the teacher {package} has none of the labels {list(labels)} (it has {names})")
    for p in teacher.parameters():
        p.requires_grad_(False)
    return Distillation(
        teacher.eval(), tuple(labels.index(n) for n in shared), tuple(names.index(n) for n in shared),
        weight, temperature,
    )  # fmt: skip


def distillation_metrics(cfg: TrainConfig) -> dict[str, object]:
    """The card's record of the teacher a model was distilled from (nothing without one)."""
    if cfg.teacher is None:
        return {}
    card = read_card(cfg.teacher)
    return {
        "distillation": {
            "teacher": card.name, "teacher_version": card.version,
            "teacher_weights_sha256": card.weights_sha256, "weight": cfg.distill_weight,
            "temperature": cfg.distill_temperature,
        }
    }  # fmt: skip
