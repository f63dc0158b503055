"""DIMSE (``pynetdicom``): C-ECHO and C-STORE as a user (SCU), and a C-STORE/C-ECHO provider (SCP)
that writes every instance it receives to an inbox and hands its path on.

Failures (nothing listening, association rejected or aborted, a refused instance, a timeout) become
a :class:`PacsError` with a plain message.
"""

from __future__ import annotations

import logging
import queue
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydicom.dataset import Dataset
from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts, evt
from pynetdicom.association import Association
from pynetdicom.pdu import A_ASSOCIATE_RJ
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

from inference.pacs.cache import instance_path, write_atomically
from inference.pacs.destinations import DEFAULT_TIMEOUT_S, DicomNode, PacsError

OWN_AE_TITLE = "CXRTRIAGE"
SUCCESS = 0x0000
WARNINGS = (0x0001, 0xB000, 0xB006, 0xB007)  # stored, with a warning (coercion, elements discarded)
OUT_OF_RESOURCES = 0xA700
CANNOT_UNDERSTAND = 0xC000

logging.getLogger("pynetdicom").setLevel(logging.CRITICAL)  # its own errors become PacsError messages


def echo(node: DicomNode, timeout: float = DEFAULT_TIMEOUT_S, calling: str = OWN_AE_TITLE) -> None:
    """C-ECHO ``node``; raises :class:`PacsError` unless it answers success."""
    with _association(node, [(Verification, [])], timeout, calling) as assoc:
        status = assoc.send_c_echo()
    _check(status, node, "C-ECHO")


def store(
    node: DicomNode,
    datasets: Sequence[Dataset],
    timeout: float = DEFAULT_TIMEOUT_S,
    calling: str = OWN_AE_TITLE,
) -> None:
    """C-STORE every dataset to ``node`` over one association, each in its own transfer syntax."""
    contexts = sorted({(str(ds.SOPClassUID), str(ds.file_meta.TransferSyntaxUID)) for ds in datasets})
    with _association(node, [(sop, [syntax]) for sop, syntax in contexts], timeout, calling) as assoc:
        for ds in datasets:
            _check(assoc.send_c_store(ds), node, f"C-STORE of {ds.SOPInstanceUID}")


@contextmanager
def _association(
    node: DicomNode, contexts: list[tuple[Any, list[str]]], timeout: float, calling: str
) -> Iterator[Association]:
    ae = _ae(calling, timeout)
    for abstract, syntaxes in contexts:
        ae.add_requested_context(abstract, syntaxes or None)
    rejections: list[A_ASSOCIATE_RJ] = []
    assoc = ae.associate(
        node.host,
        node.port,
        ae_title=node.ae_title,
        evt_handlers=[(evt.EVT_PDU_RECV, _keep_rejection(rejections))],
    )
    if rejections:
        raise PacsError(
            f"{node} rejected the association ({rejections[0].reason_str}): "
            f"check its AE title and that it accepts {calling}"
        )
    if not assoc.is_established:
        raise PacsError(f"cannot reach {node}: nothing answered, or it aborted the association")
    try:
        yield assoc
    finally:
        if assoc.is_established:
            assoc.release()


def _keep_rejection(rejections: list[A_ASSOCIATE_RJ]) -> Callable[[evt.Event], None]:
    """A handler that keeps every A-ASSOCIATE-RJ received. ``Association.is_rejected`` is not enough:
    when the peer closes the connection right after rejecting (Orthanc does), pynetdicom 3 can find
    the socket closed before it reads the rejection and report an abort instead."""

    def keep(event: evt.Event) -> None:
        if isinstance(event.pdu, A_ASSOCIATE_RJ):
            rejections.append(event.pdu)

    return keep


def _ae(ae_title: str, timeout: float) -> AE:
    ae = AE(ae_title=ae_title)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = ae.connection_timeout = timeout
    return ae


def _check(status: Dataset, node: DicomNode, what: str) -> None:
    code = status.get("Status") if status else None
    if code is None:
        raise PacsError(f"{node} dropped the association or did not answer during {what}")
    if code != SUCCESS and code not in WARNINGS:
        raise PacsError(f"{node} refused {what} (status {code:#06x})")


class Receiver:
    """A C-STORE and C-ECHO provider: each received instance is written to ``inbox`` (one folder per
    study) and its path put on :attr:`arrivals`. Runs on pynetdicom's threads until :meth:`stop`."""

    def __init__(
        self, inbox: Path, port: int, ae_title: str = OWN_AE_TITLE, bind: str = "0.0.0.0",
        timeout: float = DEFAULT_TIMEOUT_S,
    ) -> None:  # fmt: skip
        self.inbox, self.port, self.bind = inbox, port, bind
        self.arrivals: queue.Queue[Path] = queue.Queue()
        self._ae = _ae(ae_title, timeout)
        for context in AllStoragePresentationContexts:
            if context.abstract_syntax is not None:
                self._ae.add_supported_context(context.abstract_syntax, ALL_TRANSFER_SYNTAXES)
        self._ae.add_supported_context(Verification)
        self._server: Any = None

    def start(self) -> None:
        """Listen; raises :class:`PacsError` when the port cannot be bound."""
        handlers: list[Any] = [(evt.EVT_C_STORE, self._on_store), (evt.EVT_C_ECHO, lambda event: SUCCESS)]
        try:
            self._server = self._ae.start_server((self.bind, self.port), block=False, evt_handlers=handlers)
        except OSError as exc:
            raise PacsError(f"cannot listen on {self.bind}:{self.port}: {exc.strerror or exc}") from exc

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server = None

    def _on_store(self, event: Any) -> int:
        """Keep the instance as it came (whatever it holds), then announce it."""
        try:
            sop = str(event.request.AffectedSOPInstanceUID or "")
            path = instance_path(self.inbox, _study_uid(event), sop)
            write_atomically(path, lambda target: target.write_bytes(event.encoded_dataset()))
        except OSError:
            return OUT_OF_RESOURCES
        except Exception:  # an instance pynetdicom cannot encode: refused, the listener goes on
            return CANNOT_UNDERSTAND
        self.arrivals.put(path)
        return SUCCESS


def _study_uid(event: Any) -> str:
    try:
        return str(event.dataset.get("StudyInstanceUID", ""))
    except Exception:  # undecodable: kept under the unknown study, the scan gives the reason
        return ""
