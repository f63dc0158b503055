"""One training epoch, batched prediction, the masked losses and the learning-rate schedule."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from inference.fit.train.augment import AugmentConfig, augment, crop, to_batch
from inference.fit.train.distillation import Distillation


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
