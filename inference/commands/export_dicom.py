"""``cxr-triage export-dicom --out DIR``: per scored study, a DICOM SR of its findings and a Secondary
Capture of the annotated image, in the source study (``DIR/<study UID>/<SOP instance UID>.dcm``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from inference.commands.common import (
    add_db_argument,
    check_output_folder,
    fail,
    thresholds_or_error,
    with_store,
)
from inference.commands.pacs_common import add_model_arguments, fail_pacs, start_engine

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
    add_model_arguments(parser)
    add_db_argument(parser)


def run(args: argparse.Namespace) -> int:
    problem = check_output_folder(args.out)
    if problem:
        return fail(problem)
    return with_store(
        args.db, lambda store: for_each_study(args, store, lambda objects: _write(objects, args.out))
    )


def for_each_study(args: argparse.Namespace, store: Store, deliver: Deliver) -> int:
    """Make the objects of the chosen studies and ``deliver`` each; stops at the first failure."""
    from inference.pacs.objects import Skipped, study_objects

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


def _write(objects: StudyObjects, folder: Path) -> str:
    from inference.pacs.cache import instance_path, save_dataset

    for ds in objects.datasets:
        path = instance_path(folder, objects.study_uid, str(ds.SOPInstanceUID))
        save_dataset(path, ds)
        print(f"{objects.study_uid}: {ds.Modality} {path}")
    return ""
