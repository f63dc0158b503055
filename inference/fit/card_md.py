"""A model card as Markdown, from card.json: what it is for, data, recipe, figures."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import cast

from inference.api import GateCard, ModelCard, OnnxCard
from inference.fit.train.card import GroupMetrics
from inference.gate.image import MAX_ROUGHNESS
from inference.gate.orientation import ORIENTATION_REPORT
from inference.gate.stats import SITE_REPORT
from inference.labels import PRIVATE_SCHEME
from inference.models.card import read_card

Strata = Mapping[str, Mapping[str, GroupMetrics]]  # stratum -> label -> metrics


def _ci(m: GroupMetrics) -> str:
    lo, hi = m.get("ci95", [None, None])
    return f"{m['auroc']:.3f} ({lo:.3f}–{hi:.3f})" if lo is not None else f"{m['auroc']:.3f}"


def _table(groups: Strata, title: str) -> list[str]:
    lines = [
        f"### {title}",
        "",
        "| stratum | label | AUROC (95% CI) | positives | negatives | sens / spec at Youden |",
        "|---|---|---|---|---|---|",
    ]
    for g, per in groups.items():
        for label, m in per.items():
            y = m.get("at_validation_operating_points", {}).get("youden")
            ss = (
                f"{y['sensitivity']:.2f} / {y['specificity']:.2f}"
                if y and y["sensitivity"] is not None
                else ""
            )
            lines.append(f"| {g} | {label} | {_ci(m)} | {m['n_positive']} | {m['n_negative']} | {ss} |")
    return lines + [""]


def _distilled(d: Mapping[str, object]) -> str:
    return (
        f"- Distilled from: {d['teacher']} {d['teacher_version']} (weights sha256 "
        f"`{d['teacher_weights_sha256']}`), weight {d['weight']}, temperature {d['temperature']}"
    )


def _onnx_line(onnx: OnnxCard) -> str:
    return (
        f"- ONNX export (the CPU runtime): `{onnx.file}`, sha256 `{onnx.sha256}`, opset {onnx.opset}; "
        f"largest probability difference from torch fp32 on the parity probe {onnx.parity:.1e}"
    )


def render(card: ModelCard) -> str:
    m = dict(card.metrics)
    lines = [
        f"# {card.name} {card.version}",
        "",
        card.description,
        "",
        f"**Intended use:** {card.intended_use}",
        "",
    ]
    lines += [
        f"- Architecture: {card.architecture}, task {card.task.value}, "
        f"preprocessing {card.preprocessing.value} "
        f"at {card.input_size} px",
        *([f"- Initialisation: {m['initialisation']}"] if "initialisation" in m else []),
        *([_distilled(cast(Mapping[str, object], m["distillation"]))] if "distillation" in m else []),
        f"- Weights sha256: `{card.weights_sha256}`",
        *([_onnx_line(card.onnx)] if card.onnx else []),
        f"- Shown labels: {', '.join(card.shown_labels)}",
    ]
    hidden = [lab.name for lab in card.labels if not lab.trained]
    if hidden:
        lines.append(
            f"- Trained but not shown (too few validation/test positives to measure): {', '.join(hidden)}"
        )
    if "shown_label_rule" in m:
        lines.append(f"- Rule for showing a label: {m['shown_label_rule']}")
    lines += ["", "## Training data", ""] + [f"- {t}" for t in card.training_data]
    lines += ["", "## Recipe", "", "```", card.recipe, "```", ""]
    if "selection" in m:
        lines += [
            f"Model selection: {m['selection']} (best epoch {m.get('best_epoch')} of {m.get('epochs')}; "
            f"{m.get('seconds_per_epoch')} s per epoch). Split sizes: {m.get('split')}.",
            "",
        ]
    lines += [
        "## Validation (operating points are chosen here)",
        "",
        "| label | AUROC | positives | negatives | high-sensitivity | Youden | high-specificity |",
        "|---|---|---|---|---|---|---|",
    ]
    for lab in card.labels:
        if lab.trained:
            ops = lab.operating_points
            lines.append(
                f"| {lab.name} | {lab.auroc:.3f} | {lab.n_positive} | {lab.n_negative} | "
                f"{ops.get('high_sensitivity', 0):.3f} | {ops.get('youden', 0):.3f} | "
                f"{ops.get('high_specificity', 0):.3f} |"
            )
    lines.append("")
    lines += _codes_section(card)
    if "held_out_test" in m:
        lines += ["## Held-out test (patient-disjoint, never used for model selection)", ""]
        lines += _table(cast(Strata, m["held_out_test"]), "Per source and label")
    if "held_out_test_by_view" in m:
        lines += _table(cast(Strata, m["held_out_test_by_view"]), "By view (the AP/PA shortcut check)")
    if "product_path_test" in m:
        lines += [
            "## Held-out test through the product's inference path (evaluate.sh)",
            "",
            "The same held-out images read and scored as the app does (read_image → service, fp32).",
            "",
        ]
        for title, groups in cast(Mapping[str, Strata], m["product_path_test"]).items():
            lines += _table(groups, title)
    if "published_reference" in m:
        references = cast(Mapping[str, float], m["published_reference"])  # label -> AUROC
        lines += ["## Published reference figures (other data, other splits: context, not a comparison)", ""]
        lines += [f"- {k}: AUROC {v:.3f}" for k, v in references.items()] + [""]
    if card.gate is not None:
        lines += _gate_section(card.gate)
    return "\n".join(lines) + "\n"


def _codes_section(card: ModelCard) -> list[str]:
    """How the DICOM SR names each finding: the coded concept the card gives a label, and its source."""
    coded = [(lab.name, lab.code) for lab in card.labels if lab.code is not None]
    if not coded:
        return []
    lines = [
        "## Finding codes (DICOM SR)",
        "",
        "| label | scheme | code | meaning | source |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| {name} | {c.scheme} | {c.value} | {c.meaning} | {c.source} |" for name, c in coded]
    if len(coded) < len(card.labels):
        lines += ["", f"Labels not listed are named by a private code ({PRIVATE_SCHEME}, the label's name)."]
    return lines + [""]


def _gate_section(gate: GateCard) -> list[str]:
    """The safety gate: how it decides, and what it was measured to do (``scripts/fit_gate.py``,
    or ``cxr-triage model gate`` on a site's own images)."""
    lines = [
        "## Safety gate",
        "",
        "Every scored image passes a gate before its scores are trusted; an image it stops is `not_scored`",
        '("does not look like a frontal chest radiograph") and keeps its gate score (distance / threshold;',
        "above 1 is stopped). Image statistics: a colour image, or a noise-like texture (roughness",
        f"mean |x - blur(x)| / std(x) above {MAX_ROUGHNESS}). Images the readers refuse (blank, noise,",
    ]
    site = gate.calibration.get(SITE_REPORT)
    lines += _training_fit(gate) if site is None else _site_fit(gate, str(site))
    lines += ["", "| measured on | result |", "|---|---|"]
    for key, value in gate.calibration.items():
        if isinstance(value, Mapping):
            lines += [f"| {key.replace('_', ' ')}: {name} | {v} |" for name, v in value.items()]
        else:
            lines.append(f"| {key.replace('_', ' ')} | {value} |")
    return lines + [""]


def _training_fit(gate: GateCard) -> list[str]:
    """Fitted on the training split, calibrated on the validation split, measured on held-out images."""
    return [
        "corrupt) count as stopped. Hip radiographs are stopped by the header rule (body part); their",
        "figure is for the pixels alone, as if they came as bare PNG. Features: the Mahalanobis distance",
        f"of the image's pooled embedding under a probabilistic PCA ({gate.components} components) of the",
        f"training split's embeddings (`{gate.file}`); threshold {gate.threshold:.4g} = the highest",
        "per-source 99th percentile on the validation split.",
        *_orientation(gate, "training", "the highest per-source 99.5th percentile of the upright validation"),
        "Fitted and calibrated on training and validation images only; the held-out, bundled-sample,",
        "negative and transformed figures below are on images used for neither, and every figure",
        "applies all the rules above. Reproduce:",
        "`.venv/bin/python scripts/fit_gate.py PACKAGE DATA_DIR`.",
    ]


def _site_fit(gate: GateCard, source: str) -> list[str]:
    """Fitted and calibrated on a site's own radiographs: no image was held out, so no figure may
    claim to measure the gate on unseen images."""
    return [
        "corrupt) count as stopped. Features: the Mahalanobis distance of the image's pooled embedding",
        f"under a probabilistic PCA ({gate.components} components) of the site's own radiographs'",
        f"embeddings (`{gate.file}`; {source}), split at random into a fit part and a calibration",
        f"part; threshold {gate.threshold:.4g} = the 99th percentile on the calibration part.",
        *_orientation(gate, "the fit part's", "the 99.5th percentile of the upright calibration"),
        "Fitted and calibrated on the site's images only; every figure below is on those images, none",
        "held out: they show the calibration (about 99% of the calibration part passes by design), not",
        "how the gate does on new images (`cxr-triage evaluate` on other labelled radiographs reports",
        "what it stops). Reproduce: `cxr-triage model gate PACKAGE IMAGES_DIR`.",
    ]


def _orientation(gate: GateCard, fitted_on: str, bias: str) -> list[str]:
    """The orientation rule's lines when the fit wrote one (``fitted_on``: whose radiographs; ``bias``:
    the percentile of whose images' scores sets it)."""
    if ORIENTATION_REPORT not in gate.calibration:
        return []
    return [
        f"Orientation: a linear (shrinkage Fisher) direction of the same embedding separating {fitted_on}",
        "radiographs upright from the same images turned (90° either way, 180°, upside down), in the",
        "same file; an image scoring above 0 on it is stopped as rotated or upside down. Its bias is",
        f"{bias} images' scores.",
    ]


def render_into(package: Path) -> None:
    """Write the package's card.md again from its card.json (after anything changed the card)."""
    (package / "card.md").write_text(render(read_card(package)), encoding="utf-8")
