"""``cxr-triage send DEST``: the SR and Secondary Capture of each scored study (made when needed) to a
DICOMweb root (STOW-RS) or ``dicom://AE_TITLE@HOST:PORT`` (C-STORE). What is sent is recorded in the
store and the audit; the objects keep their UIDs, so sending twice never makes two copies."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from inference.cli.commands.common import with_store
from inference.cli.commands.export_dicom import add_study_arguments, for_each_study
from inference.cli.commands.pacs_common import add_timeout_argument
from inference.pacs import PacsError
from inference.pacs.destinations import DicomNode, WebNode, parse_destination
from inference.pacs.dimse import OWN_AE_TITLE

if TYPE_CHECKING:
    from inference.pacs.objects import StudyObjects
    from inference.store import Store


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("send", help="send each scored study's SR and Secondary Capture to a PACS")
    p.add_argument(
        "destination",
        type=destination,
        metavar="DEST",
        help="http(s)://HOST/dicom-web or dicom://AE@HOST:PORT",
    )
    p.add_argument("--aet", default=OWN_AE_TITLE, help=f"our AE title for C-STORE (default {OWN_AE_TITLE})")
    add_timeout_argument(p)
    add_study_arguments(p)
    p.set_defaults(func=run)


def destination(text: str) -> WebNode | DicomNode:
    """argparse type: a PACS address."""
    try:
        return parse_destination(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    return with_store(
        args.db, lambda store: for_each_study(args, store, lambda objects: _send(objects, args, store))
    )


def _send(objects: StudyObjects, args: argparse.Namespace, store: Store) -> str:
    from inference.pacs.transfer import send_objects  # dicomweb_client: not at parser build time

    node = args.destination
    try:
        send_objects(node, objects, store, args.timeout, args.aet)
    except PacsError as exc:
        return str(exc)
    print(f"{objects.study_uid}: SR and Secondary Capture sent to {node}")
    return ""
