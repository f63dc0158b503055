"""Scores of a labelled dataset through the product's own path: prepare_image -> predict_each -> gate,
exactly as triage scores an image (same reduced decode, same safety gate)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypedDict

import numpy as np

from inference.api import ModelCard, Status, Task
from inference.fit.train.datasets import Sample
from inference.gate.image import NOT_A_RADIOGRAPH
from inference.runtime.network_input import prepare_image
from inference.runtime.scoring import image_result, predict_each


@dataclass(frozen=True)
class Scored:
    """Shown labels, per-image targets (NaN = not annotated) and probabilities, and skipped files.

    Every kept image keeps its probabilities, also when the safety gate stopped it (as the product
    does); ``gate_scores`` and ``gate_reasons`` say what the gate made of it."""

    labels: tuple[str, ...]
    samples: tuple[Sample, ...]
    targets: np.ndarray  # (N, L)
    probs: np.ndarray  # (N, L)
    skipped: tuple[tuple[str, str], ...]  # (path, reason)
    # Per kept image, filled by score(); empty only in a Scored built by hand for the tables alone.
    gate_scores: tuple[float, ...] = ()  # the gate's score; NaN where it had none
    gate_reasons: tuple[str, ...] = ()  # why the gate stopped the image; '' when it passed

    @property
    def gate_passed(self) -> np.ndarray:
        """(N,) bool: the images the gate let through."""
        return np.array([not r for r in self.gate_reasons], dtype=bool)


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
    """Read, score and gate every sample as triage does; unreadable or unscorable ones are skipped
    and listed with the product's reason."""
    card: ModelCard = service.card
    labels = card.shown_labels
    gate = service.gate
    kept: list[Sample] = []
    probs: list[list[float]] = []
    gate_scores: list[float] = []
    gate_reasons: list[str] = []
    skipped: list[tuple[str, str]] = []
    for start in range(0, len(samples), batch_size):
        batch = samples[start : start + batch_size]
        items = [prepare_image(s.path, service) for s in batch]
        scores = iter(predict_each(service, [item for item in items if not isinstance(item, str)]))
        for s, item in zip(batch, items, strict=True):
            result = image_result(str(s.path), item, scores, gate)
            if result.status is Status.ERROR:
                skipped.append((str(s.path), result.reason))
                continue
            kept.append(s)
            probs.append([result.probabilities[lab] for lab in labels])
            gate_scores.append(np.nan if result.gate_score is None else result.gate_score)
            gate_reasons.append(result.reason)  # '' unless the gate stopped it (errors are skipped)
        if progress:
            progress(f"scored {min(start + batch_size, len(samples))}/{len(samples)}")
    return Scored(
        labels=labels,
        samples=tuple(kept),
        targets=targets_for(card, labels, kept),
        probs=np.asarray(probs, dtype=np.float64).reshape(len(kept), len(labels)),
        skipped=tuple(skipped),
        gate_scores=tuple(gate_scores),
        gate_reasons=tuple(gate_reasons),
    )


class GateCount(TypedDict):
    stopped: int
    n: int


class GateSummary(TypedDict):
    """What the safety gate did to the kept images (``metrics.json``'s ``gate``)."""

    description: str  # which parts of the gate are active (inference.gate.describe)
    stopped: int
    n_images: int
    by_source: dict[str, GateCount]
    reasons: dict[str, int]  # short reason -> images


def short_reason(reason: str) -> str:
    """A gate reason without its per-image score, so that reasons can be counted: "does not look like
    a frontal chest radiograph (outside the model's training data: gate score 1.14, limit 1)" ->
    "outside the model's training data"."""
    return reason.removeprefix(f"{NOT_A_RADIOGRAPH} (").removesuffix(")").split(":")[0]


def gate_summary(scored: Scored, description: str) -> GateSummary:
    stopped = ~scored.gate_passed
    by_source: dict[str, GateCount] = {}
    for s, stop in zip(scored.samples, stopped, strict=True):
        count = by_source.setdefault(s.source, {"stopped": 0, "n": 0})
        count["stopped"] += int(stop)
        count["n"] += 1
    return {
        "description": description,
        "stopped": int(stopped.sum()),
        "n_images": len(scored.samples),
        "by_source": dict(sorted(by_source.items())),
        "reasons": dict(Counter(short_reason(r) for r in scored.gate_reasons if r).most_common()),
    }
