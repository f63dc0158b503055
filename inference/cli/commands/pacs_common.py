"""What the PACS commands (pull, listen, export-dicom, send, batch) share: the network options (the
timeout; how to reach a DICOMweb node securely, and a DIMSE node or the listener over DICOM TLS), the
engine they score and draw with, the audit of a transfer, and the exit code of a PACS failure."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from inference.cli.commands.common import seconds
from inference.cli.commands.model_options import model_loader
from inference.models.card import PackageError
from inference.pacs.access import CREDENTIALS_HINT, WebAccess, find_credentials
from inference.pacs.destinations import DEFAULT_TIMEOUT_S, DicomNode, PacsError, WebNode
from inference.pacs.dicom_tls import DICOM_TLS_PORT, DicomTls, TlsDicomNode
from inference.pacs.saved_nodes import TLS_KEYS, saved_node, without_credentials

if TYPE_CHECKING:
    from inference.runtime.engine import Engine, Listener, ModelInfo
    from inference.store import Store

EXIT_PACS = 3  # the PACS was down, refused, answered an error or timed out; what arrived is kept
AUDIT_RETRIEVE = "pacs-retrieve"  # pull, batch: a DICOMweb retrieval (node, studies, how it was reached)
AUDIT_SEND = "pacs-send"  # send: one run's sending (node, studies, how it was reached)
N = TypeVar("N", bound=WebNode | DicomNode)  # the kind of node a command takes


def add_timeout_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--timeout",
        type=seconds,
        default=DEFAULT_TIMEOUT_S,
        metavar="SECONDS",
        help=f"how long to wait for the PACS to connect or answer (default {DEFAULT_TIMEOUT_S:g})",
    )


def add_access_arguments(parser: argparse.ArgumentParser, dimse: bool = False) -> None:
    """How to reach a DICOMweb node securely (pull, send, batch); with ``dimse``, the TLS options serve
    a ``dicom://`` node too (DICOM TLS). Credentials come from the environment only, never from the
    command line, where ``ps`` and the shell history show them."""
    also = (
        "; for a dicom:// node --tls-ca, --tls-cert or --insecure turn DICOM TLS on (TLS 1.2 or newer;"
        f" such nodes usually listen on port {DICOM_TLS_PORT})"
        if dimse
        else ""
    )
    group = parser.add_argument_group(
        "PACS security" if dimse else "DICOMweb security",
        f"credentials for DICOMweb come from the environment only: {CREDENTIALS_HINT} (never a password in"
        f" the URL){also}",
    )
    group.add_argument(
        "--tls-ca",
        type=Path,
        default=None,
        metavar="FILE",
        help="CA certificate (PEM) that signed the PACS's certificate (default: the usual public CAs, or"
        " $REQUESTS_CA_BUNDLE)",
    )
    group.add_argument(
        "--tls-cert",
        type=Path,
        default=None,
        metavar="FILE",
        help="our client certificate (PEM), if the PACS asks",
    )
    group.add_argument(
        "--tls-key",
        type=Path,
        default=None,
        metavar="FILE",
        help="its private key (PEM; default: in --tls-cert)",
    )
    group.add_argument(
        "--insecure",
        action="store_true",
        help="do not verify the PACS's certificate (for a test set-up only: warned on every run, audited)",
    )


def password_in_url(node: WebNode) -> str:
    """Why a URL with a password is refused ("" when it has none)."""
    if not node.has_password_in_url:
        return ""
    return (
        f"a password in the URL ({node}) shows in ps, the shell history and logs: give the URL without"
        f" it and {CREDENTIALS_HINT} in the environment instead"
    )


def web_access(args: argparse.Namespace) -> WebAccess | str:
    """The access the options and the environment describe, or why it cannot be used (misuse). Warns
    on stderr, every run, when certificate verification is off."""
    try:
        access = WebAccess(find_credentials(), args.tls_ca, args.tls_cert, args.tls_key, args.insecure)
    except ValueError as exc:
        return str(exc)
    missing = access.missing_files()
    if missing:
        return f"cannot read {', '.join(missing)}"
    if access.insecure:
        print(
            "cxr-triage: warning: --insecure: the PACS's certificate is not verified, so anyone on the"
            " network path could pose as it and read what is sent; this run is audited as insecure",
            file=sys.stderr,
        )
    return access


def secured(node: WebNode, access: WebAccess) -> WebNode | str:
    """``node`` reached with ``access``, or why not (a password in its URL: misuse)."""
    problem = password_in_url(node)
    if problem:
        return problem
    if node.scheme == "http" and (access.ca_file or access.client_cert or access.insecure):
        print(f"cxr-triage: warning: {node} is plain HTTP: the TLS options do nothing there", file=sys.stderr)
    if node.scheme == "http" and access.credentials.scheme != "none":
        print(
            f"cxr-triage: warning: credentials are sent to {node} over plain HTTP (use https://)",
            file=sys.stderr,
        )
    return replace(node, access=access)


@dataclass(frozen=True)
class SavedNode(Generic[N]):
    """A node saved in the viewer, named on the command line (pull NODE, send NODE): its address
    (without any password left in the saved address) and its TLS files."""

    name: str
    node: N
    tls: Mapping[str, str]  # tls_ca, tls_cert, tls_key: PEM paths, "" for none


def saved_node_argument(name: str, parse: Callable[[str], N]) -> SavedNode[N]:
    """argparse type's second half: the node saved as ``name``, its address read by ``parse`` (the
    command's own type for an address)."""
    try:
        saved = saved_node(name)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    try:  # a password the viewer could not move to a credential store is never used from the file
        node = parse(without_credentials(saved["address"]))
    except argparse.ArgumentTypeError as exc:
        raise argparse.ArgumentTypeError(f"the node {name!r}: {exc}") from None
    return SavedNode(name, node, {key: saved[key] for key in TLS_KEYS})


def use_saved_tls(args: argparse.Namespace, tls: Mapping[str, str]) -> None:
    """Set ``args``' --tls-ca, --tls-cert and --tls-key to a saved node's TLS files, unless any TLS
    option (or --insecure) was given: those replace the saved files, all of them."""
    if args.tls_ca or args.tls_cert or args.tls_key or args.insecure:
        return
    args.tls_ca, args.tls_cert, args.tls_key = (Path(tls[key]) if tls.get(key) else None for key in TLS_KEYS)


def stored_access(name: str, access: WebAccess) -> WebAccess:
    """``access`` with the credential store's credentials for the node saved as ``name`` when the
    environment gave none; where there is no credential store, says so (the environment's only).
    ``ValueError`` when the store cannot be read."""
    if access.credentials.scheme != "none":
        return access  # the environment's win
    from inference.pacs import credential_store

    reason = credential_store.unavailable()
    if reason:
        print(
            f"cxr-triage: {reason}: the credentials of {name!r} come from the environment only"
            f" ({CREDENTIALS_HINT})",
            file=sys.stderr,
        )
        return access
    return access.with_credentials(find_credentials(node=name))


def add_dicom_tls_arguments(parser: argparse.ArgumentParser) -> None:
    """The listener's DICOM TLS (PS3.15 Annex B): our certificate, and the CA its peers' must have."""
    group = parser.add_argument_group(
        "DICOM TLS",
        f"with --tls-cert the listener speaks DICOM TLS only (TLS 1.2 or newer; usually on port"
        f" {DICOM_TLS_PORT}): plain associations are refused",
    )
    group.add_argument("--tls-cert", type=Path, default=None, metavar="FILE",
                       help="our certificate (PEM), naming this host as the senders call it")  # fmt: skip
    group.add_argument("--tls-key", type=Path, default=None, metavar="FILE",
                       help="its private key (PEM, without a password; default: in --tls-cert)")  # fmt: skip
    group.add_argument(
        "--tls-ca",
        type=Path,
        default=None,
        metavar="FILE",
        help="CA certificate (PEM): every sender must present a client certificate it signed (without:"
        " none is asked for)",
    )


def dicom_tls(args: argparse.Namespace, server: bool = False) -> DicomTls | None | str:
    """The DICOM TLS the options ask for (None: none, plain DIMSE), or why it cannot be used (misuse).
    As a client (``send dicom://…``), --tls-ca, --tls-cert or --insecure turn it on; the listener
    needs --tls-cert. The certificate files are read here, so that a bad one stops the run at once."""
    insecure = bool(getattr(args, "insecure", False))
    if not (args.tls_ca or args.tls_cert or args.tls_key or insecure):
        return None
    if server and args.tls_cert is None:
        return "--tls-key and --tls-ca need --tls-cert (the listener's own certificate) for DICOM TLS"
    try:
        tls = DicomTls(args.tls_cert, args.tls_key, args.tls_ca, insecure)
    except ValueError as exc:
        return str(exc)
    given = (("--tls-ca", tls.ca_file), ("--tls-cert", tls.cert_file), ("--tls-key", tls.key_file))
    missing = [f"{option} {path}" for option, path in given if path is not None and not _readable(path)]
    if missing:
        return f"cannot read {', '.join(missing)}"
    try:
        tls.server_context(handshake_later=False) if server else tls.client_context()
    except PacsError as exc:
        return str(exc)
    if insecure:
        print(
            "cxr-triage: warning: --insecure: the PACS's certificate is not verified, so anyone on the"
            " network path could pose as it and read what is sent; this run is audited as insecure",
            file=sys.stderr,
        )
    return tls


def _readable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.R_OK)


def dicom_secured(args: argparse.Namespace, node: DicomNode) -> DicomNode | str:
    """``node`` reached over DICOM TLS when the options ask for it (as it is, plainly, otherwise), or
    why not (misuse)."""
    tls = dicom_tls(args)
    if tls is None or isinstance(tls, str):
        return tls or node
    return TlsDicomNode(node.ae_title, node.host, node.port, tls)


def transfer_detail(node: WebNode | DicomNode) -> dict[str, Any]:
    """What the audit keeps of how ``node`` was reached: its address (never a secret), TLS, whether its
    certificate was verified, client certificate, kind of authentication."""
    if isinstance(node, WebNode):
        return {"node": str(node), **node.access.audit_detail(node.scheme)}
    if isinstance(node, TlsDicomNode):
        return {"node": str(node), **node.tls.audit_detail()}
    return {"node": str(node), "tls": False}


def audit_transfer(db: Path | None, action: str, node: WebNode | DicomNode, **detail: Any) -> None:
    """One audit event for a transfer with ``node``, in the store of ``--db`` (opened for it); a store
    that cannot be written is said on stderr (the run goes on: its own writes will say it too)."""
    from inference.store import Store, StoreError, store_path

    try:
        with Store(store_path(db)) as store:
            store.log(action, **transfer_detail(node), **detail)
    except StoreError as exc:
        print(f"cxr-triage: the transfer could not be recorded in the audit trail: {exc}", file=sys.stderr)


def start_engine(
    args: argparse.Namespace, store: Store, listener: Listener | None = None
) -> tuple[Engine, ModelInfo | str]:
    """An engine on ``store`` with ``--model`` loaded on ``--device`` as the options ask
    (:func:`inference.cli.commands.model_options.add_model_arguments`), or the reason it could not load."""
    from inference.runtime.engine import Engine  # runtime.engine: not at parser build time

    engine = Engine(listener, loader=model_loader(args), store=store, batch_size=args.batch_size)
    try:
        return engine, engine.load(args.model, args.device).result()
    except (PackageError, ValueError, OSError) as exc:
        return engine, f"cannot load model: {exc}"


def fail_pacs(message: str) -> int:
    """Print a PACS failure and return its exit code."""
    print(f"cxr-triage: {message}", file=sys.stderr)
    return EXIT_PACS
