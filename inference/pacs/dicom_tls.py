"""DICOM TLS (PS3.15 Annex B, usually port 2762) for DIMSE: the certificates of a node or of the
listener, made into :class:`ssl.SSLContext` s (TLS 1.2 or newer; the peer's certificate checked
against the CA given, or the system's CAs), and what a TLS connection tells about its peer.

Every problem (a certificate or key that cannot be read or does not match, a failed handshake)
becomes a plain one-line message: :class:`PacsError`, or the text :func:`handshake_failure` gives.
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inference.pacs.destinations import DicomNode, PacsError

DICOM_TLS_PORT = 2762  # PS3.15 Annex B's registered port ("dicom-tls")


@dataclass(frozen=True)
class DicomTls:
    """Our certificate and key (PEM; the key may be in the certificate's file), and the CA certificate
    (PEM) that must have signed the peer's (None: the system's CAs, as a client; no client
    certificate asked, as a server). ``insecure`` (a client only): the peer's certificate is not
    verified at all."""

    cert_file: Path | None = None
    key_file: Path | None = None
    ca_file: Path | None = None
    insecure: bool = False

    def __post_init__(self) -> None:
        if self.key_file is not None and self.cert_file is None:
            raise ValueError("--tls-key needs --tls-cert (the certificate it goes with)")
        if self.insecure and self.ca_file is not None:
            raise ValueError("--insecure turns certificate verification off: it cannot go with --tls-ca")

    def client_context(self) -> _Recording:
        """For associating with a node: its certificate verified against the CA (and naming the host
        we call), ours presented when given. :class:`PacsError` when a file is unusable."""
        context = _Recording(ssl.PROTOCOL_TLS_CLIENT)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if self.insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        else:
            self._load_ca(context)
        self._load_own(context)
        return context

    def server_context(self, handshake_later: bool = True) -> ssl.SSLContext:
        """For the listener: our certificate (required) and, with a CA, a client certificate that CA
        signed is required of every peer. With ``handshake_later`` the handshake is left to the
        association's own thread (:func:`handshake`), not done by the thread that accepts."""
        if self.cert_file is None:
            raise PacsError("a DICOM TLS listener needs its certificate: --tls-cert FILE (and --tls-key)")
        context: ssl.SSLContext = (_LateHandshake if handshake_later else ssl.SSLContext)(
            ssl.PROTOCOL_TLS_SERVER
        )
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if self.ca_file is not None:
            self._load_ca(context)
            context.verify_mode = ssl.CERT_REQUIRED
        self._load_own(context)
        return context

    def _load_ca(self, context: ssl.SSLContext) -> None:
        if self.ca_file is None:
            context.load_default_certs(ssl.Purpose.SERVER_AUTH)
            return
        try:
            context.load_verify_locations(cafile=str(self.ca_file))
        except (OSError, ssl.SSLError) as exc:
            raise PacsError(f"cannot use --tls-ca {self.ca_file}: {_why(exc)}") from None

    def _load_own(self, context: ssl.SSLContext) -> None:
        if self.cert_file is None:
            return
        key = self.key_file or self.cert_file
        try:
            context.load_cert_chain(str(self.cert_file), str(key))
        except (OSError, ssl.SSLError) as exc:
            raise PacsError(
                f"cannot use --tls-cert {self.cert_file} with its key {key}: {_why(exc)}"
                " (PEM files; the key must be the certificate's and not need a password)"
            ) from None

    def audit_detail(self) -> dict[str, object]:
        """What the audit keeps of this TLS (never a key)."""
        return {"tls": True, "certificate_verified": not self.insecure, "insecure": self.insecure,
                "client_certificate": self.cert_file is not None}  # fmt: skip


class _LateHandshake(ssl.SSLContext):
    """Wraps accepted sockets without doing the handshake: pynetdicom wraps them on the thread that
    accepts every connection, which one slow or silent peer would otherwise hold up."""

    def wrap_socket(self, sock: Any, *args: Any, **kwargs: Any) -> ssl.SSLSocket:
        kwargs["do_handshake_on_connect"] = False
        return super().wrap_socket(sock, *args, **kwargs)


class _RecordingSocket(ssl.SSLSocket):
    """An SSL socket that keeps the TLS errors of its handshake and reads on its context: pynetdicom
    only logs them, and a message needs them."""

    def do_handshake(self, block: bool = False) -> None:
        try:
            super().do_handshake(block)
        except (OSError, ValueError) as exc:
            _keep(self.context, exc)
            raise

    def recv(self, buflen: int = 1024, flags: int = 0) -> bytes:
        try:
            return super().recv(buflen, flags)
        except ssl.SSLError as exc:
            _keep(self.context, exc)
            raise


class _Recording(ssl.SSLContext):
    """A client context whose connections' TLS failures are kept in :attr:`failures`."""

    sslsocket_class = _RecordingSocket
    failures: list[BaseException]


def _keep(context: ssl.SSLContext, exc: BaseException) -> None:
    if isinstance(context, _Recording):
        if not hasattr(context, "failures"):
            context.failures = []
        context.failures.append(exc)


@dataclass(frozen=True)
class TlsDicomNode(DicomNode):
    """A DIMSE node reached over DICOM TLS (its address reads as a :class:`DicomNode`'s)."""

    tls: DicomTls = DicomTls()


def handshake(sock: Any, timeout: float) -> str:
    """Finish the TLS handshake of an accepted connection within ``timeout`` seconds: "" when done (or
    not TLS), else why it failed, in plain words."""
    if not isinstance(sock, ssl.SSLSocket):
        return ""
    try:
        sock.settimeout(timeout)
        sock.do_handshake()
        sock.settimeout(None)
    except (OSError, ValueError) as exc:
        return handshake_failure(exc)
    return ""


def peer_name(sock: Any) -> str:
    """The common name (CN) of the subject of the peer's verified certificate ("" when none)."""
    if not isinstance(sock, ssl.SSLSocket):
        return ""
    try:
        cert = sock.getpeercert() or {}
    except (OSError, ValueError):
        return ""
    subject: Any = cert.get("subject", ())
    for rdn in subject:
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return ""


def is_tls(sock: Any) -> bool:
    return isinstance(sock, ssl.SSLSocket)


# OpenSSL's reasons for a peer that does not speak TLS at all: a plain DICOM association request
NOT_TLS = {"WRONG_VERSION_NUMBER", "HTTP_REQUEST", "UNKNOWN_PROTOCOL", "PACKET_LENGTH_TOO_LONG",
           "RECORD_LAYER_FAILURE", "UNEXPECTED_RECORD", "WRONG_SSL_VERSION"}  # fmt: skip
# the alerts of a peer that did not accept the certificate we presented (or that we presented none)
OURS_REFUSED = {"TLSV1_ALERT_UNKNOWN_CA", "SSLV3_ALERT_BAD_CERTIFICATE", "TLSV13_ALERT_CERTIFICATE_REQUIRED",
                "SSLV3_ALERT_CERTIFICATE_UNKNOWN"}  # fmt: skip
OLD_PROTOCOL = {"UNSUPPORTED_PROTOCOL", "TLSV1_ALERT_PROTOCOL_VERSION", "NO_PROTOCOLS_AVAILABLE"}
PLAIN = "the peer does not speak TLS (a plain DICOM association to a DICOM TLS port)"


def handshake_failure(exc: BaseException) -> str:
    """A failed TLS handshake, as the side that accepted the connection words it."""
    reason = _reason(exc)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"its certificate could not be verified ({exc.verify_message or _alert(reason)})"
    if reason in NOT_TLS:
        return PLAIN
    if reason == "PEER_DID_NOT_RETURN_A_CERTIFICATE":
        return "it sent no client certificate (one signed by --tls-ca is required)"
    if reason in OLD_PROTOCOL:
        return "it offers no TLS version we accept (1.2 or newer)"
    if reason in OURS_REFUSED:
        return f"it did not accept our certificate ({_alert(reason)})"
    if isinstance(exc, socket.timeout | TimeoutError):
        return "the TLS handshake did not finish in time"
    if reason:
        return f"the TLS handshake failed: {_alert(reason)}"
    if isinstance(exc, ConnectionError | ssl.SSLEOFError) or not str(exc):
        return "the connection closed during the TLS handshake"
    return f"the TLS handshake failed: {_why(exc)}"


def client_failure(node: DicomNode, exc: BaseException) -> str:
    """Why associating with ``node`` over DICOM TLS failed, as one line saying what to pass."""
    reason = _reason(exc)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (
            f"the certificate of {node} could not be verified ({exc.verify_message or _alert(reason)}): pass"
            " the CA that signed it with --tls-ca FILE"
        )
    if reason in OURS_REFUSED:
        return (
            f"{node} refused our TLS connection ({_alert(reason)}): it wants a client certificate its CA"
            " signed (--tls-cert FILE --tls-key FILE)"
        )
    if reason in NOT_TLS:
        return f"cannot reach {node} over DICOM TLS: it does not speak TLS on that port"
    if reason in OLD_PROTOCOL:
        return f"cannot reach {node} over DICOM TLS: it offers no TLS version we accept (1.2 or newer)"
    return f"cannot reach {node} over DICOM TLS: {handshake_failure(exc)}"


def _reason(exc: BaseException) -> str:
    """OpenSSL's reason for an SSL error (``CERTIFICATE_VERIFY_FAILED``), "" for other errors."""
    return str(exc.reason or "") if isinstance(exc, ssl.SSLError) else ""


def _alert(reason: str) -> str:
    """``TLSV13_ALERT_CERTIFICATE_REQUIRED`` -> "alert certificate required"."""
    words = reason.lower().split("_")
    if words[0].startswith(("tlsv", "sslv")):
        words = words[1:]
    return " ".join(words)


def _why(exc: BaseException) -> str:
    if _reason(exc):
        return _alert(_reason(exc))
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
