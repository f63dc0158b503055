"""``cxr-triage pull URL|NODE``: find studies on a DICOMweb server (QIDO-RS), retrieve their instances
into a local cache (WADO-RS; resumable, nothing fetched twice), then record, score and rank them exactly
as ``triage`` does with folders, writing the same worklist files.

``NODE`` is a node saved in the viewer (PACS ▸ Nodes): its address, and its credentials from the OS
credential store; the environment's credentials win when set. Where the machine has no credential
store, that is said and only the environment's are used. Its TLS files (a CA, a client certificate and
key) are used unless --tls-ca, --tls-cert, --tls-key or --insecure is given, which replace them all."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from inference.cli.commands import triage
from inference.cli.commands.common import (
    add_db_argument,
    check_output_folder,
    fail,
    stop,
    write_failure,
)
from inference.cli.commands.model_options import add_model_arguments, add_worklist_arguments
from inference.cli.commands.pacs_common import (
    AUDIT_RETRIEVE,
    SavedNode,
    add_access_arguments,
    add_timeout_argument,
    audit_transfer,
    fail_pacs,
    saved_node_argument,
    secured,
    stored_access,
    use_saved_tls,
    web_access,
)
from inference.cli.commands.run_end import EXIT_NOTHING_SCORED
from inference.pacs import PacsError, retrieve
from inference.pacs.destinations import WebNode, parse_destination
from inference.pacs.retrieve import DEFAULT_MODALITIES
from inference.store.location import PULL_CACHE, beside_store

_MODALITY = re.compile(r"^[A-Z0-9_]{1,16}$")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pull", help="retrieve studies from a DICOMweb server, score them, write the worklist")
    p.add_argument(
        "url",
        type=web_root_or_node,
        metavar="URL|NODE",
        help="DICOMweb root, e.g. http://pacs:8042/dicom-web, or the name of a node saved in the viewer"
        " (its credentials from the OS credential store, and its TLS files)",
    )
    p.add_argument("--study", action="append", default=[], metavar="UID", help="only this study (repeatable)")
    p.add_argument(
        "--since", type=study_date, default=None, metavar="YYYYMMDD", help="studies of this day or later"
    )
    p.add_argument(
        "--modality", type=modalities, default=DEFAULT_MODALITIES, metavar="CR,DX", help="default: CR,DX"
    )
    p.add_argument(
        "--cache",
        type=Path,
        default=None,
        metavar="DIR",
        help=f"retrieved instances (default: {PULL_CACHE}/ next to the store)",
    )
    add_model_arguments(p)
    add_worklist_arguments(p)
    add_timeout_argument(p)
    add_access_arguments(p)
    add_db_argument(p)
    p.set_defaults(func=run)


def web_root(text: str) -> WebNode:
    """argparse type: a DICOMweb root."""
    try:
        node = parse_destination(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if not isinstance(node, WebNode):
        raise argparse.ArgumentTypeError(
            "pull needs a DICOMweb root (http://…); a DIMSE node sends with 'listen'"
        )
    return node


def web_root_or_node(text: str) -> WebNode | SavedNode[WebNode]:
    """argparse type: a DICOMweb root, or the name of a DICOMweb node saved in the viewer."""
    return web_root(text) if "://" in text else saved_node_argument(text, web_root)


def study_date(text: str) -> str:
    if not re.fullmatch(r"\d{8}", text):
        raise argparse.ArgumentTypeError(f"expected a date as YYYYMMDD, got {text!r}")
    return text


def modalities(text: str) -> tuple[str, ...]:
    values = tuple(v.strip().upper() for v in text.split(",") if v.strip())
    bad = [v for v in values if not _MODALITY.match(v)]
    if not values or bad:
        raise argparse.ArgumentTypeError(f"expected modalities like CR,DX, got {text!r}")
    return values


def run(args: argparse.Namespace) -> int:
    if isinstance(args.url, SavedNode):
        use_saved_tls(args, args.url.tls)
    access = web_access(args)
    if isinstance(access, str):
        return fail(access)
    target: WebNode | SavedNode[WebNode] = args.url
    if isinstance(target, SavedNode):
        try:
            access = stored_access(target.name, access)
        except ValueError as exc:
            return fail(str(exc))
        target = target.node
    node = secured(target, access)
    if isinstance(node, str):
        return fail(node)
    if problem := check_output_folder(args.out):
        return fail(problem)
    cache = args.cache or beside_store(PULL_CACHE, args.db)
    try:
        pulled = retrieve.pull_studies(
            node, cache, study_uids=args.study, since=args.since or "", modalities=args.modality,
            timeout=args.timeout,
        )  # fmt: skip
    except PacsError as exc:
        audit_transfer(args.db, AUDIT_RETRIEVE, node, command="pull", studies=0, failure=str(exc))
        return fail_pacs(str(exc))
    except OSError as exc:  # each instance is written atomically: what is in the cache is whole
        return stop(f"{write_failure(f'the retrieved instances into {cache}', exc)}; run again once fixed")
    folders, failure = pulled.folders, pulled.failure
    audit_transfer(
        args.db,
        AUDIT_RETRIEVE,
        node,
        command="pull",
        found=pulled.studies,
        studies=len(folders),
        failure=failure,
    )
    if failure:
        print(f"cxr-triage: {failure}; scoring what was retrieved, run again to retry", file=sys.stderr)
    if not folders:
        return fail_pacs(failure) if failure else _nothing()
    code = triage.run_on(args, folders)
    return fail_pacs(f"stopped early: {failure}") if failure and code == 0 else code


def _nothing() -> int:
    print("No study matches.")
    return EXIT_NOTHING_SCORED
