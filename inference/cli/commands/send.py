"""``cxr-triage send DEST``: the SR and Secondary Capture of each scored study (made when needed) to a
DICOMweb root (STOW-RS) or ``dicom://AE_TITLE@HOST:PORT`` (C-STORE; over DICOM TLS with the TLS
options). What is sent is recorded in the
store and the audit; the objects keep their UIDs, so sending twice never makes two copies.

``DEST`` may be the name of a node saved in the viewer (PACS ▸ Nodes), as for ``pull NODE``: its address,
its credentials from the OS credential store (a DICOMweb node; the environment's win) and its TLS files
(a ``dicom://`` node with any is reached over DICOM TLS). Any --tls-ca, --tls-cert, --tls-key or
--insecure given replaces all of the saved node's TLS files."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from inference.cli.commands.common import fail, with_store
from inference.cli.commands.export_dicom import add_study_arguments, for_each_study
from inference.cli.commands.pacs_common import (
    AUDIT_SEND,
    SavedNode,
    add_access_arguments,
    add_timeout_argument,
    dicom_secured,
    saved_node_argument,
    secured,
    stored_access,
    transfer_detail,
    use_saved_tls,
    web_access,
)
from inference.pacs import PacsError
from inference.pacs.destinations import DicomNode, WebNode, parse_destination
from inference.pacs.dimse import OWN_AE_TITLE
from inference.store import StoreError

if TYPE_CHECKING:
    from inference.pacs.objects import StudyObjects
    from inference.store import Store


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("send", help="send each scored study's SR and Secondary Capture to a PACS")
    where = (
        "http(s)://HOST/dicom-web or dicom://AE@HOST:PORT, or the name of a node saved in the viewer (its"
        " credentials and TLS files with it)"
    )
    p.add_argument("destination", type=destination_or_node, metavar="DEST|NODE", help=where)
    p.add_argument("--aet", default=OWN_AE_TITLE, help=f"our AE title for C-STORE (default {OWN_AE_TITLE})")
    add_timeout_argument(p)
    add_access_arguments(p, dimse=True)
    add_study_arguments(p)
    p.set_defaults(func=run)


def destination(text: str) -> WebNode | DicomNode:
    """argparse type: a PACS address."""
    try:
        return parse_destination(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def destination_or_node(text: str) -> WebNode | DicomNode | SavedNode[WebNode | DicomNode]:
    """argparse type: a PACS address, or the name of a node saved in the viewer."""
    return destination(text) if "://" in text else saved_node_argument(text, destination)


def run(args: argparse.Namespace) -> int:
    target = args.destination
    saved = target if isinstance(target, SavedNode) else None
    if saved is not None:
        use_saved_tls(args, saved.tls)  # the options, when given, win: all of them
        target = saved.node
    node: WebNode | DicomNode | str
    if isinstance(target, WebNode):
        access = web_access(args)
        if saved is not None and not isinstance(access, str):
            try:
                access = stored_access(saved.name, access)
            except ValueError as exc:
                return fail(str(exc))
        node = access if isinstance(access, str) else secured(target, access)
    else:
        node = dicom_secured(args, target)
    if isinstance(node, str):
        return fail(f"the node {saved.name!r}: {node}" if saved is not None else node)
    return with_store(args.db, lambda store: _send_all(node, args, store))


def _send_all(node: WebNode | DicomNode, args: argparse.Namespace, store: Store) -> int:
    """Send every chosen study, then audit the run: the node, how many studies went, how it was reached."""
    sent: list[str] = []
    failures: list[str] = []
    try:
        return for_each_study(args, store, _sender(node, args, store, sent, failures))
    finally:
        failure = {"failure": failures[-1]} if failures else {}
        try:
            store.log(AUDIT_SEND, **transfer_detail(node), command="send", studies=len(sent), **failure)
        except StoreError as exc:
            print(f"cxr-triage: the send could not be recorded in the audit trail: {exc}", file=sys.stderr)


def _sender(
    node: WebNode | DicomNode, args: argparse.Namespace, store: Store, sent: list[str], failures: list[str]
) -> Callable[[StudyObjects], str]:
    def send(objects: StudyObjects) -> str:
        from inference.pacs.transfer import send_objects  # dicomweb_client: not at parser build time

        try:
            send_objects(node, objects, store, args.timeout, args.aet)
        except PacsError as exc:
            failures.append(str(exc))
            return str(exc)
        sent.append(objects.study_uid)
        print(f"{objects.study_uid}: SR and Secondary Capture sent to {node}")
        return ""

    return send
