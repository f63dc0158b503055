"""``cxr-triage triage PATH...``: score studies headlessly, write the ranked worklist (+ annotated PNGs)."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from inference.api import OPERATING_POINTS, RankedStudy, Status, StudyResult, TriageService
from inference.bundled import DEMO_MODEL
from inference.device import DEVICES
from inference.models.package import PackageError
from inference.progress import ProgressBar
from inference.service import TTA_MODES

EXIT_NOTHING_SCORED = 1
EXIT_MISUSE = 2
EXIT_INTERRUPTED = 130


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("triage", help="score studies and write a ranked worklist")
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="files or folders (recursive)")
    p.add_argument(
        "--model", type=Path, default=DEMO_MODEL, help="model package folder (default: bundled demo)"
    )
    p.add_argument("--out", type=Path, default=Path("cxr-triage-out"), help="output folder")
    p.add_argument("--annotate", action="store_true", help="write one annotated PNG per scored study")
    p.add_argument("--operating-point", choices=OPERATING_POINTS, default=None, help="default: the card's")
    p.add_argument("--device", choices=DEVICES, default="auto")
    p.add_argument("--tta", choices=TTA_MODES, default="none")
    p.add_argument("--batch-size", type=int, default=8)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from inference.io import scan
    from inference.service import load_service
    from inference.triage import rank, score_studies
    from inference.worklist_export import write_worklist

    try:
        service = load_service(args.model, device=args.device, tta=args.tta)
    except (PackageError, ValueError) as exc:
        print(f"cxr-triage: cannot load model: {exc}", file=sys.stderr)
        return EXIT_MISUSE
    card = service.card
    thresholds = card.thresholds(args.operating_point)
    missing = [p for p in args.paths if not p.exists()]
    if missing:
        print(f"cxr-triage: not found: {', '.join(map(str, missing))}", file=sys.stderr)
    entries = list(scan([p for p in args.paths if p.exists()]))
    studies = len({e.meta.study_uid for e in entries})
    print(f"Model {card.name} {card.version} on {service.device}; {studies} studies in {len(entries)} files.")
    results: list[StudyResult] = []
    progress = ProgressBar(studies, "Scoring")
    interrupted = False
    try:
        for result in score_studies(entries, service, batch_size=args.batch_size):
            results.append(result)
            progress.advance(result.meta.path.name)
    except KeyboardInterrupt:
        interrupted = True
    progress.close()
    ranked = rank(results, thresholds)
    csv_path, _ = write_worklist(ranked, card, thresholds, args.out)
    if args.annotate:
        _annotate(ranked, service, thresholds, args.out / "annotated")
    _print_worklist(ranked)
    print(f"Worklist: {csv_path} (+ worklist.json){' — interrupted, partial' if interrupted else ''}")
    if interrupted:
        return EXIT_INTERRUPTED
    return 0 if any(r.status is Status.SCORED for r in results) else EXIT_NOTHING_SCORED


def _annotate(
    ranked: list[RankedStudy], service: TriageService, thresholds: dict[str, float], folder: Path
) -> None:
    from inference.annotate import render, write_png
    from inference.io import ReadError, read_image

    scored = [s for s in ranked if s.result.status is Status.SCORED]
    progress = ProgressBar(len(scored), "Heatmaps")
    for study in scored:
        try:
            image = read_image(study.result.meta.path)
        except ReadError:
            continue  # it was readable moments ago; the worklist row already stands
        heatmap = service.explain(image, study.top_finding) if study.top_finding else None
        name = f"{study.rank:04d}_{_safe(study.result.meta.path.stem)}.png"
        write_png(render(image, heatmap, study, service.card, thresholds), folder / name)
        progress.advance(name)
    progress.close()


def _safe(stem: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", stem)[:60]


def _print_worklist(ranked: list[RankedStudy]) -> None:
    print(f"{'rank':>4}  {'status':<10}  {'top finding':<22}  {'p':>5}  positive  file")
    for s in ranked:
        p = f"{s.top_probability:.2f}" if s.result.probabilities else "  -  "
        detail = "|".join(s.positive_findings) if s.result.status is Status.SCORED else s.result.reason
        print(
            f"{s.rank:>4}  {s.result.status.value:<10}  {s.top_finding:<22}  {p:>5}  {detail[:60]:<8}  "
            f"{s.result.meta.path.name}"
        )
