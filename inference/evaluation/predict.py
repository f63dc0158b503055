"""Scores of a labelled dataset through the product's own path: read_image -> service.predict."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from inference.api import ModelCard, Task
from inference.train.datasets import Sample


@dataclass(frozen=True)
class Scored:
    """Shown labels, per-image targets (NaN = not annotated) and probabilities, and skipped files."""

    labels: tuple[str, ...]
    samples: tuple[Sample, ...]
    targets: np.ndarray  # (N, L)
    probs: np.ndarray  # (N, L)
    skipped: tuple[tuple[str, str], ...]  # (path, reason)


def targets_for(card: ModelCard, labels: Sequence[str], samples: Sequence[Sample]) -> np.ndarray:
    """0/1 per shown label; NaN where the sample's source does not annotate the label."""
    out = np.zeros((len(samples), len(labels)), dtype=np.float64)
    for i, s in enumerate(samples):
        for j, lab in enumerate(labels):
            if card.task is Task.MULTILABEL and s.annotated is not None and lab not in s.annotated:
                out[i, j] = np.nan
            else:
                out[i, j] = float(lab in s.findings)
    return out


def score(
    service, samples: Sequence[Sample], batch_size: int = 16, progress: Callable[[str], None] | None = None
) -> Scored:
    """Read and score every sample; unreadable ones are skipped and listed."""
    from inference.io import ReadError, read_image

    card: ModelCard = service.card
    labels = card.shown_labels
    kept: list[Sample] = []
    probs: list[list[float]] = []
    skipped: list[tuple[str, str]] = []
    for start in range(0, len(samples), batch_size):
        batch, images = [], []
        for s in samples[start : start + batch_size]:
            try:
                images.append(read_image(s.path))
                batch.append(s)
            except ReadError as exc:
                skipped.append((str(s.path), str(exc)))
        for s, pred in zip(batch, service.predict(images), strict=True):
            kept.append(s)
            probs.append([pred.probabilities[lab] for lab in labels])
        if progress:
            progress(f"scored {min(start + batch_size, len(samples))}/{len(samples)}")
    return Scored(
        labels=labels,
        samples=tuple(kept),
        targets=targets_for(card, labels, kept),
        probs=np.asarray(probs, dtype=np.float64).reshape(len(kept), len(labels)),
        skipped=tuple(skipped),
    )
