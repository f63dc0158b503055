"""``cxr-triage triage PATH...``: record studies in the store, score what it lacks, write the worklist."""

from __future__ import annotations

import argparse
import contextlib
import queue
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from inference.api import ModelCard, RankedStudy, Status, StudyResult
from inference.cli.commands.common import (
    INTERRUPTED,
    add_db_argument,
    check_output_folder,
    engine_warnings_reported,
    existing_paths,
    fail,
    plain_error,
    thresholds_or_error,
    with_store,
    worklist_unwritten,
    write_failure,
)
from inference.cli.commands.model_options import add_model_arguments, add_worklist_arguments, model_loader
from inference.cli.commands.run_end import exit_code, worklist_line, write_and_record
from inference.cli.progress import ProgressBar
from inference.io import ReadError, read_image, scan
from inference.models.card import PackageError
from inference.text import terminal_safe
from inference.worklist.deidentify import neutral_names, opaque_id
from inference.worklist.export import RunSummary

if TYPE_CHECKING:
    from inference.runtime.engine import Engine, Event, ScoringJob
    from inference.runtime.scoring import RunCounts
    from inference.store import Store

STOP_WAIT_S = 120.0  # after Ctrl+C, how long to wait for the batch in flight to be committed


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("triage", help="score studies and write a ranked worklist")
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="files or folders (recursive)")
    add_model_arguments(p)
    add_worklist_arguments(p)
    add_db_argument(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if problem := check_output_folder(args.out):
        return fail(problem)
    present = existing_paths(args.paths)
    if not present:
        return fail("none of the given paths exist")
    return run_on(args, present)


def run_on(args: argparse.Namespace, paths: list[Path]) -> int:
    """Score ``paths`` and write the worklist, with the options of :func:`add_model_arguments` and
    :func:`add_worklist_arguments` and ``--db`` in ``args`` (triage, and pull on what it retrieved)."""
    return with_store(args.db, lambda store: _triage(args, paths, store))


def _triage(args: argparse.Namespace, paths: list[Path], store: Store) -> int:
    from inference.runtime.engine import Engine  # runtime.engine: not at parser build time

    events: queue.Queue[Event] = queue.Queue()
    engine = Engine(events.put, loader=model_loader(args), store=store, batch_size=args.batch_size)
    try:
        with engine_warnings_reported():
            return _score_and_write(args, paths, store, engine, events)
    finally:
        engine.shutdown()


def _score_and_write(
    args: argparse.Namespace, paths: list[Path], store: Store, engine: Engine, events: queue.Queue[Event]
) -> int:
    """Score, then write the worklist (and the annotated images). A run that stops before the end (a
    full disk, a store that cannot be written, Ctrl+C) still writes what it scored, marked partial,
    and ends with one line saying why and how many studies it did not score."""
    from inference.worklist.ranking import rank  # worklist.ranking: not at parser build time

    try:
        info = engine.load(args.model, args.device).result()
    except (PackageError, ValueError, OSError) as exc:
        return fail(f"cannot load model: {exc}")
    card = info.card
    thresholds = thresholds_or_error(card, args.operating_point)
    if isinstance(thresholds, str):
        return fail(thresholds)
    entries = list(scan(paths, exclude=[args.out]))
    studies = len({e.meta.study_uid for e in entries})
    print(f"Model {card.name} {card.version} on {info.device}; {studies} studies in {len(entries)} files.")
    results, counts, stopped = _collect(engine, engine.score(entries, studies), events, studies)
    unfinished = max(0, studies - len(results)) if stopped else 0
    ranked = rank(results, thresholds, max_wait=args.max_wait)
    summary = RunSummary(
        counts.scored, counts.reused, counts.errors, partial=bool(stopped), unfinished=unfinished
    )
    csv_path, problem = write_and_record(
        ranked, card, thresholds, args.out, store, deidentify=args.deidentify, run=summary
    )
    if csv_path is None:
        return _unwritten(problem, stopped, len(results))
    stopped = stopped or problem
    if args.annotate and not stopped:
        try:
            _annotate(ranked, engine, card, thresholds, args.out / "annotated", args.deidentify)
        except OSError as exc:
            stopped = write_failure(f"the annotated images into {args.out / 'annotated'}", exc)
    _print_worklist(ranked, args.deidentify)
    print(worklist_line(csv_path, len(ranked), summary, stopped))
    left = f"; {unfinished} of {studies} studies not scored (partial worklist)" if unfinished else ""
    return exit_code(stopped, results, left)


def _unwritten(reason: str, stopped: str, kept: int) -> int:
    """The one line of a worklist that could not be written: its reason (and the run's, if it had
    stopped before), and where the scored studies are kept."""
    kept_line = f"; the {kept} studies done are kept in the store ('cxr-triage worklist' writes them out)"
    unchanged = f"{reason} (any worklist already there is unchanged)"
    return worklist_unwritten(f"{unchanged}{kept_line if kept else ''}", stopped)


def _collect(
    engine: Engine, job: ScoringJob, events: queue.Queue[Event], studies: int
) -> tuple[list[StudyResult], RunCounts, str]:
    """Results of ``job`` as they arrive, and why it stopped before the end ("" when it did not,
    :data:`INTERRUPTED` after Ctrl+C, else the failure); Ctrl+C cancels it and keeps what was scored."""
    results: list[StudyResult] = []
    progress = ProgressBar(studies, "Scoring")
    try:
        stopped = _drain(events, job, results, progress, timeout=None)
    except KeyboardInterrupt:
        stopped = INTERRUPTED
        job.cancel()
        print("\nInterrupted: finishing the batch in flight; Ctrl+C again to stop now.", file=sys.stderr)
        with contextlib.suppress(KeyboardInterrupt):  # a second Ctrl+C: stop waiting, keep what arrived
            _drain(events, job, results, progress, timeout=STOP_WAIT_S)
    progress.close()
    return results, job.counts, stopped


def _drain(
    events: queue.Queue[Event], job: ScoringJob, results: list[StudyResult], progress: ProgressBar,
    timeout: float | None,
) -> str:  # fmt: skip
    """Take events until ``job`` finishes (or ``timeout`` seconds pass without one); returns why
    scoring failed ("" when it did not)."""
    from inference.runtime.engine import follow  # runtime.engine: not at parser build time

    def take(result: StudyResult) -> None:
        results.append(result)
        progress.advance(terminal_safe(result.meta.path.name))

    return plain_error(follow(job, events, take, timeout))


def _annotate(
    ranked: list[RankedStudy],
    engine: Engine,
    card: ModelCard,
    thresholds: dict[str, float],
    folder: Path,
    deidentify: bool,
) -> None:
    from inference.render.annotate import render, write_png  # render.annotate: only with --annotate

    scored = [s for s in ranked if s.result.status is Status.SCORED]
    progress = ProgressBar(len(scored), "Heatmaps")
    for study in scored:
        path = study.result.meta.path
        stem = opaque_id(path, "image") if deidentify else _safe(path.stem)
        name = f"{study.rank:04d}_{stem}.png"
        try:
            image = read_image(path)
            finding = study.top_finding
            heatmap = engine.explain(image, finding, replaceable=False).result() if finding else None
            annotated = render(image, heatmap, study, card, thresholds)
        except (ReadError, OSError, RuntimeError, ValueError) as exc:
            reason = terminal_safe(str(exc))
            print(f"cxr-triage: no annotated image for rank {study.rank}: {reason}", file=sys.stderr)
        else:
            try:
                write_png(annotated, folder / name)
            except ValueError as exc:  # could not be encoded: this image only
                print(f"cxr-triage: no annotated image for rank {study.rank}: {exc}", file=sys.stderr)
            except OSError:  # the folder cannot take it (a full disk): the caller stops
                progress.close()
                raise
        progress.advance(name)
    progress.close()


def _safe(stem: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", stem)[:60]


def _print_worklist(ranked: list[RankedStudy], deidentify: bool) -> None:
    print(f"{'rank':>4}  {'status':<10}  {'top finding':<22}  {'p':>5}  positive  file")
    for s in ranked:
        result = s.result
        p = f"{s.top_probability:.2f}" if result.probabilities else "  -  "
        detail = "|".join(s.positive_findings) if result.status is Status.SCORED else result.reason
        name = result.meta.path.name
        if deidentify:
            detail, name = neutral_names(detail, result.images), opaque_id(result.meta.path, "image")
        print(
            f"{s.rank:>4}  {result.status.value:<10}  {s.top_finding:<22}  {p:>5}  "
            f"{terminal_safe(detail)[:60]:<8}  {terminal_safe(name)}"
        )
