"""``cxr-triage export-dicom --out DIR``: per scored study, a DICOM SR of its findings and a Secondary
Capture of the annotated image, in the source study (``DIR/<study UID>/<SOP instance UID>.dcm``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from inference.cli.commands.common import (
    add_db_argument,
    check_output_folder,
    fail,
    stop,
    thresholds_or_error,
    with_store,
    write_failure,
)
from inference.cli.commands.model_options import add_model_arguments
from inference.cli.commands.pacs_common import fail_pacs, start_engine

if TYPE_CHECKING:
    from inference.pacs.objects import StudyObjects
    from inference.store import Store

EXIT_NOTHING_EXPORTED = 1
Deliver = Callable[["StudyObjects"], str]  # sends or writes one study's objects; returns "" or a failure


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export-dicom", help="write a DICOM SR and Secondary Capture per scored study")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    add_study_arguments(p)
    p.set_defaults(func=run)


def add_study_arguments(parser: argparse.ArgumentParser) -> None:
    """The options export-dicom and send share: which studies, which model, which store."""
    parser.add_argument(
        "--study", action="append", default=[], metavar="UID", help="only this study (repeatable)"
    )
    add_model_arguments(parser, scoring=False)
    add_db_argument(parser)


def run(args: argparse.Namespace) -> int:
    problem = check_output_folder(args.out)
    if problem:
        return fail(problem)
    written: list[str] = []

    def deliver(objects: StudyObjects) -> str:
        _write(objects, args.out)
        written.append(objects.study_uid)
        return ""

    try:
        return with_store(args.db, lambda store: for_each_study(args, store, deliver))
    except _Unwritten as exc:
        return stop(f"{exc} ({len(written)} studies written before it; run again to write the rest)")


class _Unwritten(Exception):
    """A study's objects could not be written into the output folder (a full disk): a plain message."""


def for_each_study(args: argparse.Namespace, store: Store, deliver: Deliver) -> int:
    """Make the objects of the chosen studies and ``deliver`` each; stops at the first failure."""
    from inference.pacs.objects import Skipped, study_objects  # highdicom: only when the command runs

    engine, info = start_engine(args, store)
    try:
        if isinstance(info, str):
            return fail(info)
        thresholds = thresholds_or_error(info.card, args.operating_point)
        if isinstance(thresholds, str):
            return fail(thresholds)
        done = 0
        for item in study_objects(store, engine, info.card, thresholds, args.study):
            if isinstance(item, Skipped):
                print(f"cxr-triage: study {item.study_uid} skipped: {item.reason}", file=sys.stderr)
                continue
            failure = deliver(item)
            if failure:
                return fail_pacs(f"{failure} ({done} studies done before it; run again to retry)")
            done += 1
    finally:
        engine.shutdown()
    print(f"{done} studies: SR and Secondary Capture each.")
    return 0 if done else EXIT_NOTHING_EXPORTED


def _write(objects: StudyObjects, folder: Path) -> None:
    """The study's objects, each whole, all appearing together (:mod:`inference.io.atomic`); a
    failed write leaves none of them and raises :class:`_Unwritten`."""
    from inference.io.atomic import atomic_paths  # cv2, pydicom (inference.io): not at parser build time
    from inference.pacs.cache import instance_path

    paths = [instance_path(folder, objects.study_uid, str(ds.SOPInstanceUID)) for ds in objects.datasets]
    try:
        with atomic_paths(*paths) as temporaries:
            for ds, temporary in zip(objects.datasets, temporaries, strict=True):
                ds.save_as(temporary, enforce_file_format=True)
    except OSError as exc:
        raise _Unwritten(write_failure(f"study {objects.study_uid} into {folder}", exc)) from exc
    for ds, path in zip(objects.datasets, paths, strict=True):
        print(f"{objects.study_uid}: {ds.Modality} {path}")
