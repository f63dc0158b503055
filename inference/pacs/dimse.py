"""DIMSE (``pynetdicom``): C-ECHO and C-STORE as a user (SCU), and a C-STORE/C-ECHO provider (SCP)
that writes every instance it receives to an inbox and hands its path on; either over DICOM TLS
(:mod:`inference.pacs.dicom_tls`) when given certificates.

Failures (nothing listening, association rejected or aborted, a refused instance, a timeout) become
a :class:`PacsError` with a plain message.
"""

from __future__ import annotations

import ipaddress
import logging
import queue
import shutil
import socket
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pydicom.dataset import Dataset
from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts, evt
from pynetdicom.association import Association
from pynetdicom.pdu import A_ASSOCIATE_RJ
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

from inference.pacs.cache import instance_path, write_atomically
from inference.pacs.destinations import CONNECT_TIMEOUT_S, DEFAULT_TIMEOUT_S, DicomNode, PacsError
from inference.pacs.destinations import ae_title as checked_ae_title
from inference.pacs.dicom_tls import DicomTls, TlsDicomNode, client_failure, handshake, is_tls, peer_name

OWN_AE_TITLE = "CXRTRIAGE"
SUCCESS = 0x0000
WARNINGS = (0x0001, 0xB000, 0xB006, 0xB007)  # stored, with a warning (coercion, elements discarded)
OUT_OF_RESOURCES = 0xA700
CANNOT_UNDERSTAND = 0xC000
# A-ASSOCIATE-RJ (PS3.8 9.3.4): result "rejected-permanent", source "DICOM UL service-user", and its reasons
REJECTED_PERMANENT, SERVICE_USER = 0x01, 0x01
CALLING_AE_NOT_RECOGNISED, CALLED_AE_NOT_RECOGNISED = 0x03, 0x07
REASONS = {CALLING_AE_NOT_RECOGNISED: "calling AE title not recognised",
           CALLED_AE_NOT_RECOGNISED: "called AE title not recognised"}  # fmt: skip

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
    connected: list[bool] = []
    tls = node.tls.client_context() if isinstance(node, TlsDicomNode) else None  # PacsError: bad files
    assoc = ae.associate(
        node.host,
        node.port,
        ae_title=node.ae_title,
        evt_handlers=[
            (evt.EVT_PDU_RECV, _keep_rejection(rejections)),
            (evt.EVT_CONN_OPEN, lambda event: connected.append(True)),
        ],
        tls_args=(tls, node.host) if tls is not None else None,
    )
    if rejections:
        raise PacsError(
            f"{node} rejected the association ({rejections[0].reason_str}): "
            f"check its AE title and that it accepts {calling}"
        )
    if not assoc.is_established:
        failures = getattr(tls, "failures", None)
        if failures:
            raise PacsError(client_failure(node, failures[0]))
        if not connected:
            raise PacsError(
                f"cannot reach {node}: the connection was refused, or not accepted within "
                f"{ae.connection_timeout:g} s to connect; is it running, and are the host and port right?"
            )
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
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = timeout
    ae.connection_timeout = min(timeout, CONNECT_TIMEOUT_S)
    return ae


def _check(status: Dataset, node: DicomNode, what: str) -> None:
    code = status.get("Status") if status else None
    if code is None:
        raise PacsError(f"{node} dropped the association or did not answer during {what}")
    if code != SUCCESS and code not in WARNINGS:
        raise PacsError(f"{node} refused {what} (status {code:#06x})")


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class Peer:
    """One ``--allow AET[@HOST]``: a calling AE title we accept, from ``host`` only when one is given."""

    ae_title: str
    host: str = ""

    @classmethod
    def parse(cls, text: str) -> Peer:
        """``AET`` or ``AET@HOST``; raises ValueError with a plain message."""
        title, at, host = text.rpartition("@") if "@" in text else (text, "", "")
        if at and not host:
            raise ValueError(f"expected AE_TITLE or AE_TITLE@HOST, got {text!r}")
        return cls(checked_ae_title(title).strip(), host)

    def __str__(self) -> str:
        return f"{self.ae_title}@{self.host}" if self.host else self.ae_title


@dataclass(frozen=True)
class Rejection:
    """An association refused by :class:`Access` (no patient data: who called whom, from where, why)."""

    calling_ae_title: str
    called_ae_title: str
    peer_address: str
    reason: int  # A-ASSOCIATE-RJ reason (PS3.8 9.3.4), source "service-user"
    tls: bool = False  # asked over DICOM TLS
    peer_name: str = ""  # then: the CN of its verified client certificate, if any

    @property
    def reason_text(self) -> str:
        return REASONS[self.reason]

    def __str__(self) -> str:
        return (
            f"association rejected from {self.peer_address}: calling AE title {self.calling_ae_title!r}, "
            f"called AE title {self.called_ae_title!r}: {self.reason_text} (reason {self.reason})"
        )


class Access:
    """Who may associate with the listener. The called AE title must be ``ae_title``; with ``peers``,
    the calling AE title must be one of theirs, and come from its host's addresses when the peer names a
    host (resolved once, here: :class:`PacsError` when it cannot be); without, any calling AE title."""

    def __init__(self, ae_title: str, peers: Sequence[Peer] = ()) -> None:
        self.ae_title = ae_title.strip()
        self.peers = tuple(peers)
        self.addresses: dict[str, set[IPAddress] | None] = {}  # calling AE title -> its hosts (None: any)
        for peer in self.peers:
            if not peer.host:
                self.addresses[peer.ae_title] = None
            elif (known := self.addresses.setdefault(peer.ae_title, set())) is not None:
                known.update(_resolve(peer))

    def check(self, called: str, calling: str, address: str) -> Rejection | None:
        """The rejection of an association request, or None when it may go on."""
        called, calling = called.strip(), calling.strip()
        reason = None
        if called != self.ae_title:
            reason = CALLED_AE_NOT_RECOGNISED
        elif self.addresses and (
            calling not in self.addresses
            or ((hosts := self.addresses[calling]) is not None and _ip(address) not in hosts)
        ):
            reason = CALLING_AE_NOT_RECOGNISED
        return Rejection(calling, called, address, reason) if reason else None

    def describe(self) -> str:
        """For the start-up line."""
        if not self.peers:
            return "accepting any calling AE title"
        named = []
        for title, hosts in self.addresses.items():
            where = "any address" if hosts is None else ", ".join(sorted(map(str, hosts)))
            named.append(f"{title} ({where})")
        return "accepting only calling AE titles " + ", ".join(named)


def _resolve(peer: Peer) -> set[IPAddress]:
    try:
        found = socket.getaddrinfo(peer.host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        why = getattr(exc, "strerror", None) or exc
        raise PacsError(f"cannot resolve the host of --allow {peer}: {why}") from None
    return {ip for *_, address in found if (ip := _ip(str(address[0]))) is not None}


def _ip(text: str) -> IPAddress | None:
    """An address as compared (an IPv4-mapped IPv6 address is its IPv4 address); None if not one."""
    try:
        ip = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


@dataclass(frozen=True)
class Accepted:
    """An association the listener accepted (who called whom, from where; never a password)."""

    calling_ae_title: str
    called_ae_title: str
    peer_address: str
    tls: bool = False  # over DICOM TLS
    peer_name: str = ""  # then: the CN of its verified client certificate, if any


@dataclass(frozen=True)
class TlsRefusal:
    """A connection to a DICOM TLS listener that failed before any association request: a plain
    (non-TLS) peer, a missing or untrusted client certificate, a handshake that did not finish."""

    peer_address: str
    reason: str

    def __str__(self) -> str:
        return f"TLS connection refused from {self.peer_address}: {self.reason}"


class Receiver:
    """A C-STORE and C-ECHO provider: each received instance is written to ``inbox`` (one folder per
    study) and its path put on :attr:`arrivals`. Runs on pynetdicom's threads until :meth:`stop`.

    Associations that ``access`` refuses (by default: any whose called AE title is not ``ae_title``) are
    rejected with an A-ASSOCIATE-RJ giving the reason, after ``on_reject`` has been told; each one
    accepted is told to ``on_accept``.

    While the inbox's file system has less than ``min_free_bytes`` free, each instance is refused with
    status 0xA700 (out of resources) and nothing is written; ``on_space(False, free)`` is told once
    when it drops below that floor, ``on_space(True, free)`` once when storing resumes.

    With ``tls``, it speaks DICOM TLS only (TLS 1.2 or newer): with a CA in it, every peer must present
    a certificate that CA signed. A connection whose handshake fails (a plain association, no or an
    untrusted certificate) is closed before any association request is read, after ``on_tls_refused``
    has been told."""

    def __init__(
        self, inbox: Path, port: int, ae_title: str = OWN_AE_TITLE, bind: str = "0.0.0.0",
        timeout: float = DEFAULT_TIMEOUT_S, access: Access | None = None,
        on_reject: Callable[[Rejection], None] | None = None,
        on_accept: Callable[[Accepted], None] | None = None,
        min_free_bytes: int = 0, on_space: Callable[[bool, int], None] | None = None,
        tls: DicomTls | None = None, on_tls_refused: Callable[[TlsRefusal], None] | None = None,
    ) -> None:  # fmt: skip
        self.inbox, self.port, self.bind = inbox, port, bind
        self.tls, self.on_tls_refused, self.timeout = tls, on_tls_refused, timeout
        self.access = access or Access(ae_title)
        self.on_reject, self.on_accept = on_reject, on_accept
        self.min_free_bytes, self.on_space = min_free_bytes, on_space
        self._below_floor = False
        self._floor_lock = threading.Lock()
        self.arrivals: queue.Queue[Path] = queue.Queue()
        self._ae = _ae(ae_title, timeout)
        for context in AllStoragePresentationContexts:
            if context.abstract_syntax is not None:
                self._ae.add_supported_context(context.abstract_syntax, ALL_TRANSFER_SYNTAXES)
        self._ae.add_supported_context(Verification)
        # pynetdicom's own AE title checks too, should our handler ever fail (its errors are only logged)
        self._ae.require_called_aet = True
        self._ae.require_calling_aet = list(self.access.addresses)
        self._server: Any = None

    def start(self) -> None:
        """Listen; raises :class:`PacsError` when the port cannot be bound, or a TLS certificate or key
        cannot be used."""
        context = self.tls.server_context() if self.tls is not None else None
        handlers: list[Any] = [
            (evt.EVT_CONN_OPEN, self._on_open),
            (evt.EVT_REQUESTED, self._on_requested),
            (evt.EVT_ACCEPTED, self._on_accepted),
            (evt.EVT_C_STORE, self._on_store),
            (evt.EVT_C_ECHO, lambda event: SUCCESS),
        ]
        try:
            self._server = self._ae.start_server(
                (self.bind, self.port), block=False, evt_handlers=handlers, ssl_context=context
            )
        except OSError as exc:
            raise PacsError(f"cannot listen on {self.bind}:{self.port}: {exc.strerror or exc}") from exc

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server = None

    def _on_open(self, event: Any) -> None:
        """On the connection's own thread, before any PDU is read: finish the TLS handshake (bounded by
        the timeout), or refuse the connection, telling ``on_tls_refused`` why."""
        if self.tls is None:
            return
        channel = event.assoc.dul.socket
        why = handshake(channel.socket, self.timeout)
        if not why:
            return
        try:
            if self.on_tls_refused is not None:
                self.on_tls_refused(TlsRefusal(str(event.address[0]), why))
        finally:
            channel.close()

    def _on_requested(self, event: Any) -> None:
        """Reject an association ``access`` refuses, as pynetdicom does its own checks: an
        A-ASSOCIATE-RJ, then the association ends once the peer has it (or its timer runs out)."""
        assoc = event.assoc
        asked = assoc.requestor.primitive
        rejection = self.access.check(asked.called_ae_title, asked.calling_ae_title, assoc.requestor.address)
        if rejection is None:
            return
        sock = getattr(assoc.dul.socket, "socket", None)
        rejection = replace(rejection, tls=is_tls(sock), peer_name=peer_name(sock))
        try:
            if self.on_reject is not None:
                self.on_reject(rejection)
        finally:
            assoc.acse.send_reject(REJECTED_PERMANENT, SERVICE_USER, rejection.reason)
            assoc.kill()

    def _on_accepted(self, event: Any) -> None:
        if self.on_accept is None:
            return
        assoc = event.assoc
        asked = assoc.requestor.primitive
        sock = getattr(assoc.dul.socket, "socket", None)
        self.on_accept(
            Accepted(str(asked.calling_ae_title).strip(), str(asked.called_ae_title).strip(),
                     str(assoc.requestor.address), is_tls(sock), peer_name(sock))
        )  # fmt: skip

    def free_bytes(self) -> int:
        """Free space (for an unprivileged user) on the inbox's file system (the inbox, else the
        nearest folder above it that exists)."""
        folder = next((p for p in (self.inbox, *self.inbox.parents) if p.exists()), Path("/"))
        return shutil.disk_usage(folder).free

    def _room(self) -> bool:
        """Whether the inbox's file system is above the floor; tells ``on_space`` when that changes."""
        if self.min_free_bytes <= 0:
            return True
        free = self.free_bytes()
        low = free < self.min_free_bytes
        with self._floor_lock:
            changed, self._below_floor = low != self._below_floor, low
        if changed and self.on_space is not None:
            self.on_space(not low, free)
        return not low

    def _on_store(self, event: Any) -> int:
        """Keep the instance as it came (whatever it holds), then announce it; refused (out of
        resources) while the inbox's file system is below the floor."""
        try:
            if not self._room():
                return OUT_OF_RESOURCES
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
