"""``cxr-triage similar STUDY_UID...``: each study's most similar other scored studies in the store,
with their findings, scores and review outcome."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from inference.bundled import DEMO_MODEL
from inference.cli.commands.common import EXIT_MISUSE, add_db_argument, fail, positive_int, with_store
from inference.models.card import PackageError, read_card
from inference.text import printable, terminal_safe

if TYPE_CHECKING:
    from inference.similar import SimilarStudy
    from inference.store import Store

DEFAULT_K = 5


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("similar", help="list the scored studies most similar to given studies")
    p.add_argument("study_uids", nargs="+", metavar="STUDY_UID")
    p.add_argument(
        "-k", type=positive_int, default=DEFAULT_K, help=f"neighbours per study (default {DEFAULT_K})"
    )
    p.add_argument(
        "--model",
        type=Path,
        default=DEMO_MODEL,
        help="whose embeddings and thresholds (default: bundled demo)",
    )
    p.add_argument("--json", action="store_true", help="print JSON: each study UID to its neighbours")
    add_db_argument(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        card = read_card(args.model)
    except PackageError as exc:
        return fail(f"cannot read the model card: {exc}")
    try:
        thresholds = card.thresholds()
    except KeyError as exc:
        return fail(f"the model card has no default thresholds: {exc.args[0]}")
    return with_store(args.db, lambda store: _answer(store, card.weights_sha256, thresholds, args))


def _answer(store: Store, weights_sha256: str, thresholds: dict[str, float], args: argparse.Namespace) -> int:
    from inference.similar import SimilarCases, SimilarityError, describe  # similar: not at parser build time

    search = SimilarCases(store, weights_sha256)
    answers: dict[str, list[SimilarStudy]] = {}
    for uid in dict.fromkeys(args.study_uids):
        try:
            neighbours = search.neighbours(uid, args.k)
        except SimilarityError as exc:
            print(f"cxr-triage: {exc}", file=sys.stderr)
            continue
        answers[uid] = describe(store, weights_sha256, neighbours, thresholds)
    if args.json:
        print(
            json.dumps({printable(q): [_record(s) for s in found] for q, found in answers.items()}, indent=2)
        )
    else:
        for query, found in answers.items():
            _print_text(query, found)
    return 0 if answers else EXIT_MISUSE


def _record(study: SimilarStudy) -> dict[str, Any]:
    """One neighbour in the JSON output; patient names are never written."""
    result = study.result
    meta = result.meta if result is not None else None
    top = study.top_probability
    return {
        "study_uid": printable(study.study_uid),
        "similarity": round(study.similarity, 4),
        "study_date": meta.study_date if meta else "",
        "view": meta.view_position if meta else "",
        "status": result.status.value if result is not None else "",
        "top_finding": study.top_finding,
        "top_probability": None if top is None or math.isnan(top) else round(top, 4),
        "positive_findings": list(study.positive_findings),
        "probabilities": {k: round(v, 4) for k, v in result.probabilities.items()} if result else {},
        "review": study.review.outcome if study.review is not None else None,
        "review_note": study.review.note if study.review is not None else "",
    }


def _print_text(query: str, found: list[SimilarStudy]) -> None:
    print(f"{terminal_safe(query)}: {len(found)} most similar studies")
    for i, study in enumerate(found, start=1):
        finding = (
            f"{study.top_finding} {study.top_probability:.2f}" if study.top_probability is not None else "-"
        )
        positive = ", ".join(study.positive_findings) or "none"
        review = study.review.outcome if study.review is not None else "not reviewed"
        print(
            f"  {i}. {study.similarity:.3f}  {terminal_safe(study.study_uid)}  top: {finding}"
            f"  positive: {positive}  review: {review}"
        )
