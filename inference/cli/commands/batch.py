"""``cxr-triage batch SOURCE...``: score an archive on a Ray cluster into the store, write the worklist.

The driver (this process) scans through Ray tasks, plans against the store (images it holds a
result for, with these weights, are never read), lets the scorer actors decode and score, commits
every batch as it comes back and writes the same worklist files as ``triage``. Ray is imported here
only, when the command runs.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from inference.api import OPERATING_POINTS, ModelCard, StudyResult
from inference.bundled import DEMO_MODEL
from inference.cli.commands import common, pacs_common
from inference.cli.commands.run_end import exit_code, worklist_line, write_and_record
from inference.pacs import PacsError
from inference.pacs.destinations import WebNode, is_web_root, parse_destination
from inference.runtime.options import BACKEND_HELP, BACKENDS, DEVICES
from inference.store import StoreError
from inference.store.location import PULL_CACHE, beside_store
from inference.text import terminal_safe
from inference.worklist.export import RunSummary

if TYPE_CHECKING:
    from inference.cluster.pipeline import OnBatch
    from inference.cluster.progress import Throughput
    from inference.store import Store
    from inference.worklist.studies import RunCounts, StudyImages

STOP_WAIT_S = 120.0  # after Ctrl+C, how long to wait for the batches in flight to be committed


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("batch", help="score files and folders on a Ray cluster into the store")
    p.add_argument(
        "sources",
        nargs="+",
        metavar="SOURCE",
        help="files or folders (recursive), or a DICOMweb root (http://…/dicom-web: its CR and DX studies"
        " are retrieved into the pull cache first)",
    )
    p.add_argument(
        "--ray",
        default="local",
        metavar="local|ADDRESS",
        help="local: start Ray on this machine; HOST:PORT: join a running cluster (default: local)",
    )
    p.add_argument(
        "--workers",
        type=common.positive_int,
        default=None,
        help="scorer actors (default: one per CPU Ray has)",
    )
    p.add_argument(
        "--model",
        type=Path,
        default=DEMO_MODEL,
        help="model package folder, at the same path on every node (default: bundled demo)",
    )
    p.add_argument("--out", type=Path, default=Path("cxr-triage-out"), help="output folder")
    p.add_argument("--operating-point", choices=OPERATING_POINTS, default=None, help="default: the card's")
    p.add_argument("--device", choices=DEVICES, default="auto", help="the workers' device")
    p.add_argument("--backend", choices=BACKENDS, default="auto", help=BACKEND_HELP)
    p.add_argument("--batch-size", type=common.positive_int, default=8)
    pacs_common.add_timeout_argument(p)
    pacs_common.add_access_arguments(p)
    common.add_db_argument(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace, on_batch: OnBatch | None = None) -> int:
    """The command; ``on_batch`` is also called after every committed batch (for tests)."""

    if problem := common.check_output_folder(args.out):
        return common.fail(problem)
    webs = [s for s in args.sources if is_web_root(s)]
    nodes = _web_nodes(webs, args) if webs else []
    if isinstance(nodes, str):
        return common.fail(nodes)
    present = common.existing_paths([Path(s) for s in args.sources if s not in webs])
    if nodes:
        pulled = _pull(nodes, beside_store(PULL_CACHE, args.db), args)
        if pulled is None:
            return pacs_common.EXIT_PACS
        present += pulled
    if not present:
        return common.fail("none of the given sources exist")
    model = common.card_and_thresholds(args.model, args.operating_point)
    if isinstance(model, str):
        return common.fail(model)
    card, thresholds = model
    return common.with_store(args.db, lambda store: _batch(args, present, card, thresholds, store, on_batch))


def _batch(
    args: argparse.Namespace,
    sources: list[Path],
    card: ModelCard,
    thresholds: dict[str, float],
    store: Store,
    on_batch: OnBatch | None,
) -> int:
    from ray.exceptions import RayError  # ray: only when the command runs

    from inference.cluster import runtime  # ray, and the scoring path: only when the command runs
    from inference.cluster.worker import PRECISION
    from inference.runtime.scoring import plan_studies
    from inference.worklist.studies import RunCounts

    try:
        workers = runtime.connect(args.ray, args.workers)
    except (ConnectionError, ValueError, RuntimeError) as exc:
        return common.fail(f"cannot start Ray ({args.ray}): {exc}")
    scorers: list[Any] = []
    try:
        entries = runtime.scan_entries(sources, exclude=[args.out])
        counts = RunCounts()
        try:
            # records every image first
            studies = plan_studies(entries, card.weights_sha256, PRECISION, store, counts)
        except StoreError as exc:
            return common.stop(f"stopped before scoring anything: {exc}; run again once fixed")
        todo = sum(len(s.todo) for s in studies)
        print(
            f"{len(studies)} studies in {len(entries)} files: {todo} images to score, "
            f"{counts.reused} reused from the store."
        )
        if todo:  # nothing to score: no worker, no model loaded
            try:
                scorers, nodes = runtime.start_scorers(
                    args.model, card.weights_sha256, args.device, workers, args.backend
                )
            except RayError as exc:
                return common.fail(f"a worker cannot load the model: {_last_line(exc)}")
            print(f"Model {card.name} {card.version}; {workers} workers on {len(nodes)} node(s).")
        outcome = _score(args, studies, counts, card, store, scorers, on_batch)
    finally:
        runtime.shutdown(scorers)
    return _write(args, outcome, card, thresholds, store)


def _web_nodes(roots: list[str], args: argparse.Namespace) -> list[WebNode] | str:
    """The DICOMweb sources, each reached as the options and the environment say, or why not (misuse)."""
    access = pacs_common.web_access(args)
    if isinstance(access, str):
        return access
    nodes: list[WebNode] = []
    for root in roots:
        try:
            node = parse_destination(root)
        except ValueError as exc:
            return str(exc)
        reached = (
            pacs_common.secured(node, access) if isinstance(node, WebNode) else f"not a DICOMweb root: {root}"
        )
        if isinstance(reached, str):
            return reached
        nodes.append(reached)
    return nodes


def _pull(nodes: list[WebNode], cache: Path, args: argparse.Namespace) -> list[Path] | None:
    """Retrieve the studies of DICOMweb ``nodes`` into ``cache`` (each retrieval audited): their study
    folders, or None after a failure (already printed) that left nothing to score."""
    from inference.pacs.retrieve import pull_studies  # dicomweb_client: only for DICOMweb sources

    folders: list[Path] = []
    for node in nodes:
        try:
            pulled = pull_studies(node, cache, timeout=args.timeout)
        except PacsError as exc:
            pacs_common.audit_transfer(
                args.db, pacs_common.AUDIT_RETRIEVE, node, command="batch", studies=0, failure=str(exc)
            )
            print(f"cxr-triage: {exc}", file=sys.stderr)
            continue
        pacs_common.audit_transfer(
            args.db, pacs_common.AUDIT_RETRIEVE, node, command="batch", found=pulled.studies,
            studies=len(pulled.folders), failure=pulled.failure,
        )  # fmt: skip
        if pulled.failure:
            print(f"cxr-triage: {pulled.failure}; scoring what was retrieved", file=sys.stderr)
        folders += pulled.folders
    return folders or None


@dataclass(frozen=True)
class Outcome:
    """What a run leaves for the worklist: finished studies, counts, the nodes that scored and why
    it stopped before the end ("" when it did not, ``common.INTERRUPTED`` after Ctrl+C)."""

    results: list[StudyResult]
    summary: RunSummary
    nodes: frozenset[str]
    stopped: str = ""


def _score(
    args: argparse.Namespace,
    studies: list[StudyImages],
    counts: RunCounts,
    card: ModelCard,
    store: Store,
    scorers: list[Any],
    on_batch: OnBatch | None,
) -> Outcome:
    """Score what the store lacks; Ctrl+C stops submitting and keeps what lands."""
    from inference.cluster.pipeline import ClusterError, ClusterScoring  # ray: only when the command runs
    from inference.cluster.progress import Throughput

    scoring = ClusterScoring(
        studies, scorers, store, card.weights_sha256, card.preprocessing.value,
        batch_size=args.batch_size, counts=counts,
    )  # fmt: skip
    progress = Throughput(scoring.to_score)
    scoring.on_batch = _both(progress, on_batch)
    stopped = ""
    try:
        scoring.run()
    except (ClusterError, StoreError) as exc:  # said once, at the end, with what was left undone
        stopped = str(exc)
    except KeyboardInterrupt:
        stopped = common.INTERRUPTED
        scoring.stop()
        print("\nInterrupted: committing the batches in flight; Ctrl+C again to stop now.", file=sys.stderr)
        with contextlib.suppress(KeyboardInterrupt):  # a second Ctrl+C: stop waiting, keep what is stored
            scoring.run(timeout=STOP_WAIT_S)
    progress.close()
    unfinished = len(studies) - len(scoring.finished) if stopped else 0
    summary = RunSummary(
        counts.scored, counts.reused, counts.errors, partial=bool(stopped), unfinished=max(0, unfinished)
    )
    return Outcome(scoring.finished, summary, frozenset(scoring.nodes), stopped)


def _both(progress: Throughput, extra: OnBatch | None) -> OnBatch:
    def on_batch(images: int, finished: Sequence[StudyResult]) -> None:
        progress.advance(images)
        if extra is not None:
            extra(images, finished)

    return on_batch


def _write(
    args: argparse.Namespace, outcome: Outcome, card: ModelCard, thresholds: dict[str, float], store: Store
) -> int:
    """The worklist files, exactly as ``triage`` writes them, and the run's last lines."""
    from inference.worklist.ranking import rank  # worklist.ranking: not at parser build time

    ranked = rank(outcome.results, thresholds)
    csv_path, problem = write_and_record(ranked, card, thresholds, args.out, store, run=outcome.summary)
    if csv_path is None:
        return common.worklist_unwritten(problem, outcome.stopped)
    stopped = outcome.stopped or problem
    run = outcome.summary
    print(f"Scored on node(s): {', '.join(sorted(outcome.nodes)) or 'none'}")
    print(worklist_line(csv_path, len(ranked), run, stopped))
    left = f"; {run.unfinished} studies not scored (partial worklist)" if run.unfinished else ""
    return exit_code(stopped, outcome.results, left)


def _last_line(exc: BaseException) -> str:
    lines = [line for line in str(exc).splitlines() if line.strip()]
    return terminal_safe(lines[-1] if lines else type(exc).__name__)
