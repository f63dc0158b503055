"""Evaluate a model package on a labelled dataset: metrics, plots, Markdown report, JSON."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypedDict

import numpy as np

from inference.api import ModelCard
from inference.evaluation.analysis import AurocSummary, LabelReport, auroc_summary, label_report
from inference.evaluation.plots import roc_png, threshold_png
from inference.evaluation.predict import Scored, score
from inference.evaluation.report import markdown
from inference.train.datasets import Sample


class EvaluationMetrics(TypedDict):
    """What ``metrics.json`` holds."""

    package: str
    model: str
    version: str
    weights_sha256: str
    n_images: int
    labels: dict[str, LabelReport]
    by_stratum: dict[str, dict[str, AurocSummary]]  # stratum -> label -> summary
    skipped: list[list[str]]  # [path, reason]


def analyse(scored: Scored, card: ModelCard, n_extremes: int, n_boot: int) -> dict[str, LabelReport]:
    out = {}
    for j, label in enumerate(scored.labels):
        r = label_report(scored.targets[:, j], scored.probs[:, j], dict(card.label(label).operating_points),
                         n_extremes, n_boot)  # fmt: skip
        if r is not None:
            out[label] = r
    return out


def by_stratum(scored: Scored, n_boot: int) -> dict[str, dict[str, AurocSummary]]:
    """AUROC per source, and per source/view where views are known (the view shortcut check)."""
    keys: dict[str, list[int]] = defaultdict(list)
    sources = {s.source for s in scored.samples}
    for i, s in enumerate(scored.samples):
        if len(sources) > 1:
            keys[s.source].append(i)
        if s.view:
            keys[f"{s.source}/{s.view}"].append(i)
    out: dict[str, dict[str, AurocSummary]] = {}
    for key in sorted(keys):
        idx = np.array(keys[key])
        per = {}
        for j, label in enumerate(scored.labels):
            r = auroc_summary(scored.targets[idx, j], scored.probs[idx, j], n_boot)
            if r is not None:
                per[label] = r
        if per:
            out[key] = per
    return out


def evaluate(
    package: Path,
    samples: Sequence[Sample],
    out: Path,
    *,
    device: str = "auto",
    n_extremes: int = 20,
    n_boot: int = 1000,
    progress: Callable[[str], None] | None = None,
    calibrated_out: Path | None = None,
) -> EvaluationMetrics:
    """Score ``samples`` with the package through the product's service; write report.md,
    metrics.json, predictions.csv and ROC/threshold PNGs under ``out``. Returns the metrics."""
    from inference.service import load_service

    # fp32 always: published figures must not depend on whether this CPU has bf16 (the product's
    # reduced precision stays within 0.02 of fp32 per image, checked on its first batch).
    service = load_service(Path(package), device=device, precision="fp32")
    card = service.card
    scored = score(service, list(samples), progress=progress)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    results = analyse(scored, card, n_extremes, n_boot)
    groups = by_stratum(scored, n_boot)
    figures: dict[str, list[str]] = {}
    for j, label in enumerate(scored.labels):
        if label not in results:
            continue
        keep = ~np.isnan(scored.targets[:, j])
        y, p = scored.targets[keep, j].astype(bool), scored.probs[keep, j]
        ops = dict(card.label(label).operating_points)
        figures[label] = [
            roc_png(y, p, label, results[label]["auroc"], ops, out).name,
            threshold_png(y, p, label, ops, out).name,
        ]
    metrics: EvaluationMetrics = {"package": str(package), "model": card.name, "version": card.version,
               "weights_sha256": card.weights_sha256, "n_images": len(scored.samples), "labels": results,
               "by_stratum": groups, "skipped": [list(s) for s in scored.skipped]}  # fmt: skip
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1), encoding="utf-8")
    with (out / "predictions.csv").open("w", encoding="utf-8") as f:
        f.write("path,source,view," + ",".join(f"p_{lab},y_{lab}" for lab in scored.labels) + "\n")
        for i, s in enumerate(scored.samples):
            cells = [
                f"{scored.probs[i, j]:.5f},{'' if np.isnan(t) else int(t)}"
                for j, t in enumerate(scored.targets[i])
            ]
            f.write(f"{s.path},{s.source},{s.view}," + ",".join(cells) + "\n")
    summary = {
        "model": f"{card.name} {card.version}",
        "weights sha256": card.weights_sha256[:16] + "…",
        "task": card.task.value,
        "images": str(len(scored.samples)),
        "input size": str(card.input_size),
    }
    report = markdown(f"Evaluation of {card.name}", summary, results, groups, scored.skipped, figures)
    (out / "report.md").write_text(report, encoding="utf-8")
    if calibrated_out is not None:
        from inference.evaluation.calibrate import recalibrated_card, write_calibrated

        sources = ", ".join(sorted({s.source for s in scored.samples}))
        write_calibrated(package, recalibrated_card(card, scored, sources), calibrated_out)
    return metrics
