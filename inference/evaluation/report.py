"""The Markdown evaluation report."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from inference.evaluation.analysis import AurocSummary, ConfusionRow, LabelReport


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


def markdown(
    title: str,
    card_summary: Mapping[str, str],
    results: Mapping[str, LabelReport],
    groups: Mapping[str, Mapping[str, AurocSummary]],
    skipped: Sequence[tuple[str, str]],
    figures: Mapping[str, Sequence[str]],
) -> str:
    """``results``: label -> analysis (see :mod:`inference.evaluation.analysis`); ``groups``: stratum
    (source, view) -> label -> analysis; ``figures``: label -> PNG file names."""
    lines = [f"# {title}", ""]
    lines += [f"- **{k}**: {v}" for k, v in card_summary.items()]
    lines += [
        "",
        "Positive means score >= threshold. Operating points come from the model card (validation).",
        "",
    ]
    lines += ["## Summary", "", "| label | AUROC | 95% CI | positives | negatives |", "|---|---|---|---|---|"]
    lines += [f"| {label} | {_summary_cells(r)} |" for label, r in results.items()]
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
