"""Evaluate a model package on a labelled dataset: metrics, plots, Markdown report, JSON."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypedDict

import numpy as np

from inference.api import ModelCard
from inference.fit.evaluation.analysis import AurocSummary, LabelReport, auroc_summary, label_report
from inference.fit.evaluation.calibrate import recalibrated_card, write_calibrated
from inference.fit.evaluation.plots import roc_png, threshold_png
from inference.fit.evaluation.predict import GateSummary, Scored, gate_summary, score
from inference.fit.evaluation.report import markdown
from inference.fit.train.datasets import Sample
from inference.gate import describe
from inference.runtime.service import load_service


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
    gate: GateSummary  # what the safety gate did; every figure above still counts the images it stopped
    labels_gate_passed: dict[str, AurocSummary]  # label -> summary over the images the gate let through


def analyse(scored: Scored, card: ModelCard, n_extremes: int, n_boot: int) -> dict[str, LabelReport]:
    out = {}
    for j, label in enumerate(scored.labels):
        r = label_report(scored.targets[:, j], scored.probs[:, j], dict(card.label(label).operating_points),
                         n_extremes, n_boot)  # fmt: skip
        if r is not None:
            out[label] = r
    return out


def summaries(scored: Scored, idx: np.ndarray, n_boot: int) -> dict[str, AurocSummary]:
    """Label -> AUROC summary over the images ``idx`` selects (labels without both classes left out)."""
    out = {}
    for j, label in enumerate(scored.labels):
        r = auroc_summary(scored.targets[idx, j], scored.probs[idx, j], n_boot)
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
        per = summaries(scored, np.array(keys[key]), n_boot)
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
    """Score ``samples`` with the package through the product's service and safety gate; write
    report.md, metrics.json, predictions.csv and ROC/threshold PNGs under ``out``. Returns the metrics.

    Every figure counts the images the gate stopped too, as if a reader had scored them anyway, so
    that figures stay comparable across packages and gates; ``gate`` and ``labels_gate_passed`` say
    what the gate did and how the model does on the images it lets through."""
    # fp32, the product's default: published figures are those every reading station reproduces.
    service = load_service(Path(package), device=device, precision="fp32")
    card = service.card
    scored = score(service, list(samples), progress=progress)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    results = analyse(scored, card, n_extremes, n_boot)
    groups = by_stratum(scored, n_boot)
    gate = gate_summary(scored, describe(card))
    passed = summaries(scored, scored.gate_passed, n_boot)
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
               "by_stratum": groups, "skipped": [list(s) for s in scored.skipped], "gate": gate,
               "labels_gate_passed": passed}  # fmt: skip
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1), encoding="utf-8")
    with (out / "predictions.csv").open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")  # gate reasons hold commas
        writer.writerow(["path", "source", "view", *(f"{c}_{lab}" for lab in scored.labels for c in "py"),
                         "gate_score", "gate"])  # fmt: skip
        for i, s in enumerate(scored.samples):
            cells = [
                cell
                for p, t in zip(scored.probs[i], scored.targets[i], strict=True)
                for cell in (f"{p:.5f}", "" if np.isnan(t) else int(t))
            ]
            g = scored.gate_scores[i]
            writer.writerow([s.path, s.source, s.view, *cells, "" if np.isnan(g) else f"{g:.4f}",
                             scored.gate_reasons[i]])  # fmt: skip
    summary = {
        "model": f"{card.name} {card.version}",
        "weights sha256": card.weights_sha256[:16] + "…",
        "task": card.task.value,
        "images": str(len(scored.samples)),
        "input size": str(card.input_size),
    }
    report = markdown(f"Evaluation of {card.name}", summary, results, groups, scored.skipped, figures,
                      gate=gate, gate_passed=passed)  # fmt: skip
    (out / "report.md").write_text(report, encoding="utf-8")
    if calibrated_out is not None:
        sources = ", ".join(sorted({s.source for s in scored.samples}))
        write_calibrated(package, recalibrated_card(card, scored, sources), calibrated_out)
    return metrics
