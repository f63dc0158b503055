"""One training epoch, batched prediction, the masked losses, distillation and the learning-rate schedule."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from inference.api import Preprocessing, Task
from inference.models.package import load_package, read_card
from inference.train.augment import AugmentConfig, augment, crop, to_batch
from inference.train.config import TrainConfig


def masked_bce(
    logits: torch.Tensor, targets: torch.Tensor, pos_weight: torch.Tensor | None, smoothing: float
):
    """BCE over annotated entries only (targets NaN where a source does not annotate a label)."""
    mask = ~torch.isnan(targets)
    y = torch.nan_to_num(targets) * (1.0 - smoothing) + 0.5 * smoothing
    loss = F.binary_cross_entropy_with_logits(logits, y, pos_weight=pos_weight, reduction="none")
    return (loss * mask).sum() / mask.sum().clamp(min=1)


def softmax_ce(logits: torch.Tensor, targets: torch.Tensor, weight: torch.Tensor | None, smoothing: float):
    return F.cross_entropy(logits, targets.argmax(1), weight=weight, label_smoothing=smoothing)


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


class WarmupCosine:
    """LR multiplier: linear warm-up, then cosine decay to 1% of the peak at ``total`` steps.

    A callable object (not a closure) so that ``LambdaLR.state_dict`` saves ``total``, which a
    time budget may shorten during the run.
    """

    def __init__(self, total: int, warmup: int) -> None:
        self.total = max(1, total)
        self.warmup = max(1, warmup)

    def __call__(self, step: int) -> float:
        if step < self.warmup:
            return (step + 1) / self.warmup
        t = (step - self.warmup) / max(1, self.total - self.warmup)
        return 0.01 + 0.99 * 0.5 * (1.0 + math.cos(math.pi * min(1.0, t)))


def _autocast(amp: bool) -> torch.autocast:
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp)


def train_one_epoch(
    model: torch.nn.Module,
    images: np.ndarray,
    targets: np.ndarray,
    order: np.ndarray,
    *,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    input_size: int,
    batch_size: int,
    rng: np.random.Generator,
    aug: AugmentConfig,
    amp: bool = False,
    ema: torch.optim.swa_utils.AveragedModel | None = None,
    distill: Distillation | None = None,
    log: Callable[[str], None] = print,
) -> float:
    """Train over ``order`` (indices into images/targets); returns the mean loss. ``ema``, if
    given, is updated after every step; ``distill``'s teacher, if given, scores the same augmented
    batch under the same autocast."""
    total, seen, start = 0.0, 0, time.perf_counter()
    n_batches = max(1, len(order) // batch_size)  # drop the ragged last batch (BatchNorm)
    report_every = max(1, n_batches // 10)
    for b in range(n_batches):
        idx = order[b * batch_size : (b + 1) * batch_size]
        x = to_batch([augment(images[i], input_size, rng, aug) for i in idx])
        y = torch.from_numpy(targets[idx])
        with _autocast(amp):
            logits = model(x)
        loss = loss_fn(logits.float(), y)
        if distill is not None:
            with _autocast(amp):
                teacher_logits = distill.teacher_logits(x)
            loss = distill.mix(loss, logits.float(), teacher_logits.float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        if ema is not None:
            ema.update_parameters(model)
        total += float(loss.detach()) * len(idx)
        seen += len(idx)
        if (b + 1) % report_every == 0 or b + 1 == n_batches:
            rate = seen / (time.perf_counter() - start)
            log(f"  batch {b + 1}/{n_batches}  loss {total / seen:.4f}  {rate:.1f} img/s")
    return total / max(1, seen)


@torch.inference_mode()
def predict(
    model: torch.nn.Module,
    images: np.ndarray,
    indices: np.ndarray,
    input_size: int,
    multiclass: bool,
    batch_size: int = 32,
) -> np.ndarray:
    """Probabilities (N, L) of the centre-cropped cached images: sigmoid, or softmax if multi-class."""
    model.eval()
    out = []
    for b in range(0, len(indices), batch_size):
        x = to_batch([crop(images[i], input_size) for i in indices[b : b + batch_size]])
        logits = model(x).float()
        out.append((logits.softmax(1) if multiclass else logits.sigmoid()).numpy())
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)
