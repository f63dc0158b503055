"""The Markdown evaluation report."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from inference.fit.evaluation.analysis import AurocSummary, ConfusionRow, LabelReport
from inference.fit.evaluation.predict import GateSummary


def _f(v: object, digits: int = 3) -> str:
    return "n/a" if v is None else f"{v:.{digits}f}" if isinstance(v, float) else str(v)


def _summary_cells(s: AurocSummary) -> str:
    """AUROC | 95% CI | positives | negatives, as table cells."""
    return f"{_f(s['auroc'])} | {_f(s['ci95'][0])}–{_f(s['ci95'][1])} | {s['n_positive']} | {s['n_negative']}"


def _confusion_rows(rows: Sequence[ConfusionRow], names: Sequence[str]) -> list[str]:
    out = [
        "| point | threshold | sensitivity | specificity | PPV | NPV | TP | FP | TN | FN |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in zip(names, rows, strict=True):
        out.append(
            f"| {name} | {_f(r['threshold'])} | {_f(r['sensitivity'])} | {_f(r['specificity'])} "
            f"| {_f(r['ppv'])} | {_f(r['npv'])} | {r['tp']} | {r['fp']} | {r['tn']} | {r['fn']} |"
        )
    return out


def _ci(s: AurocSummary | None) -> str:
    """AUROC (95% CI) in one cell."""
    return "n/a" if s is None else f"{_f(s['auroc'])} ({_f(s['ci95'][0])}–{_f(s['ci95'][1])})"


def _gate_section(
    gate: GateSummary, results: Mapping[str, LabelReport], passed: Mapping[str, AurocSummary]
) -> list[str]:
    sources = "; ".join(f"{src}: {c['stopped']} of {c['n']}" for src, c in gate["by_source"].items())
    lines = [
        "",
        "## Safety gate",
        "",
        f"Gate: {gate['description']}.",
        "",
        f"The gate stopped {gate['stopped']} of {gate['n_images']} images ({sources}). The figures above "
        "include the stopped images, as if a reader had scored them anyway; the product shows them as "
        "not scored.",
        "",
    ]
    lines += [f"- {why}: {n}" for why, n in gate["reasons"].items()]
    lines += [
        "",
        "| label | AUROC (95% CI), all images | AUROC (95% CI), images the gate passed "
        "| passed positives | passed negatives |",
        "|---|---|---|---|---|",
    ]
    for label, r in results.items():
        p = passed.get(label)
        counts = "n/a | n/a" if p is None else f"{p['n_positive']} | {p['n_negative']}"
        lines.append(f"| {label} | {_ci(r)} | {_ci(p)} | {counts} |")
    return lines


def markdown(
    title: str,
    card_summary: Mapping[str, str],
    results: Mapping[str, LabelReport],
    groups: Mapping[str, Mapping[str, AurocSummary]],
    skipped: Sequence[tuple[str, str]],
    figures: Mapping[str, Sequence[str]],
    *,
    gate: GateSummary | None = None,
    gate_passed: Mapping[str, AurocSummary] | None = None,
) -> str:
    """``results``: label -> analysis (see :mod:`inference.fit.evaluation.analysis`); ``groups``: stratum
    (source, view) -> label -> analysis; ``figures``: label -> PNG file names; ``gate``: what the
    safety gate did, with ``gate_passed`` (label -> analysis over the images it let through)."""
    lines = [f"# {title}", ""]
    lines += [f"- **{k}**: {v}" for k, v in card_summary.items()]
    lines += [
        "",
        "Positive means score >= threshold. Operating points come from the model card (validation).",
        "",
    ]
    lines += ["## Summary", "", "| label | AUROC | 95% CI | positives | negatives |", "|---|---|---|---|---|"]
    lines += [f"| {label} | {_summary_cells(r)} |" for label, r in results.items()]
    if gate is not None:
        lines += _gate_section(gate, results, gate_passed or {})
    for label, r in results.items():
        lines += [
            "",
            f"## {label}",
            "",
            f"AUROC {_f(r['auroc'])} (95% bootstrap CI {_f(r['ci95'][0])}–{_f(r['ci95'][1])}), "
            f"{r['n_positive']} positive / {r['n_negative']} negative cases.",
            "",
        ]
        ops = r["operating_points"]
        if ops:
            lines += ["### Operating points", ""] + _confusion_rows(list(ops.values()), list(ops)) + [""]
        lines += ["### Threshold sweep", ""] + _confusion_rows(
            r["sweep"], [_f(s["threshold"], 1) for s in r["sweep"]]
        )
        e = r["extremes"]
        lines += [
            "",
            "### Extremes",
            "",
            f"Among the {e['n']} highest-scored cases {100 * e['top_positive_rate']:.0f}% are positive; "
            f"among the {e['n']} lowest-scored {100 * e['bottom_negative_rate']:.0f}% are negative.",
            "",
        ]
        lines += [f"![{Path(f).stem}]({f})" for f in figures.get(label, ())]
    if groups:
        lines += [
            "",
            "## By stratum",
            "",
            "| stratum | label | AUROC | 95% CI | positives | negatives |",
            "|---|---|---|---|---|---|",
        ]
        for g, per in groups.items():
            lines += [f"| {g} | {label} | {_summary_cells(s)} |" for label, s in per.items()]
    if skipped:
        lines += ["", f"## Skipped ({len(skipped)})", ""] + [f"- `{p}`: {why}" for p, why in skipped]
    return "\n".join(lines) + "\n"
