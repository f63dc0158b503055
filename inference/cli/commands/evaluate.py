"""``cxr-triage evaluate PACKAGE DATASET``: per-label metrics, plots and a Markdown report."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate",
        help="evaluate a model package on a labelled dataset",
        description="AUROC with 95%% bootstrap CI, confusion at each operating point, a threshold sweep, "
        "the extremes analysis, ROC/threshold PNGs and report.md. DATASET: [SOURCE=]CSV or class-folder.",
    )
    p.add_argument("package", type=Path)
    p.add_argument("dataset", nargs="+", help="[SOURCE=]PATH: an NIH-style CSV or a folder of class folders")
    p.add_argument(
        "--out", type=Path, default=Path("evaluation"), help="report folder (default ./evaluation)"
    )
    p.add_argument("--class-map", action="append", metavar="FOLDER=FINDING", help="class folders as findings")
    p.add_argument("--split-file", type=Path, help="split.json of a training run: evaluate only --split")
    p.add_argument("--split", default="test", choices=("train", "val", "test"))
    p.add_argument("--device", default="auto")
    p.add_argument("--extremes", type=int, default=20, help="N of the highest/lowest-scored analysis")
    p.add_argument("--n-boot", type=int, default=1000)
    p.add_argument("--max-images", type=int, default=0, help="per dataset, for quick checks")
    p.add_argument(
        "--calibrated-out",
        type=Path,
        help="also write a package with the same weights whose operating points and threshold curve come "
        "from this dataset (a site's own validation data; thresholds do not transfer across sites)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from inference.cli.commands.train import class_map_of  # numpy, matplotlib: not at parser build time
    from inference.fit.evaluation.run import evaluate
    from inference.fit.train.datasets import read_dataset
    from inference.models.card import PackageError

    class_map = class_map_of(args.class_map)
    samples = []
    for spec in args.dataset:
        part = read_dataset(spec, class_map)
        samples += part[: args.max_images] if args.max_images else part
    if args.split_file:
        wanted = set(json.loads(args.split_file.read_text(encoding="utf-8"))[args.split])
        samples = [
            s for s in samples if str(s.path) in wanted or s.path.name in {Path(w).name for w in wanted}
        ]
    if not samples:
        print("no images to evaluate", file=sys.stderr)
        return 2
    try:
        metrics = evaluate(args.package, samples, args.out, device=args.device, n_extremes=args.extremes,
                           n_boot=args.n_boot, calibrated_out=args.calibrated_out)  # fmt: skip
    except PackageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for label, r in metrics["labels"].items():
        print(f"{label}: AUROC {r['auroc']:.3f} (95% CI {r['ci95'][0]:.3f}-{r['ci95'][1]:.3f}), "
              f"{r['n_positive']} pos / {r['n_negative']} neg")  # fmt: skip
    print(f"report: {args.out / 'report.md'}")
    return 0


if __name__ == "__main__":  # `python -m inference.cli.commands.evaluate evaluate ...` = `cxr-triage evaluate`
    parser = argparse.ArgumentParser(prog="cxr-triage")
    register(parser.add_subparsers(dest="command", required=True))
    parsed = parser.parse_args()
    sys.exit(parsed.func(parsed))
