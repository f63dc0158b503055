"""How many studies of a triaged worklist get the viewer's red priority dot, against how many are positive
for some finding at the reader's thresholds (what the dot meant before issue #22).

    .venv/bin/cxr-triage triage FOLDER --out OUT
    .venv/bin/python bench/priority_share.py OUT/worklist.json [--model PACKAGE]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from inference.bundled import DEMO_MODEL
from inference.models.card import read_card
from inference.worklist.ranking import high_specificity_points, priority_bars, priority_reasons


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("worklist", type=Path, help="worklist.json written by `cxr-triage triage`")
    parser.add_argument("--model", type=Path, default=DEMO_MODEL, help="the package it was scored with")
    args = parser.parse_args()
    written = json.loads(args.worklist.read_text(encoding="utf-8"))
    thresholds = written["thresholds"]
    scored = [s for s in written["studies"] if s["status"] == "scored"]
    probabilities = [{label: s[label] for label in thresholds} for s in scored]
    positive = sum(any(p[k] >= t for k, t in thresholds.items()) for p in probabilities)
    bars = priority_bars(high_specificity_points(read_card(args.model)), thresholds)
    priority = sum(bool(reasons) for reasons in priority_reasons(probabilities, bars))
    print(f"{len(written['studies'])} studies, {len(scored)} scored")
    print(f"positive for a finding at the thresholds (the dot before): {positive}")
    print(f"priority dot (a finding at its high-specificity point or the threshold, the higher): {priority}")
    print(f"ratio: {priority / max(positive, 1):.2f}")


if __name__ == "__main__":
    main()
