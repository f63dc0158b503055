"""Where a PACS is: a DICOMweb root (``http(s)://host/dicom-web``) or a DIMSE node
(``dicom://AE_TITLE@HOST:PORT``), parsed from one string, and the one error type of the PACS link."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from inference.pacs.access import WebAccess

DEFAULT_TIMEOUT_S = 30.0
# A PACS on the site's network accepts a connection in milliseconds: one that has not within this many
# seconds (a wrong host, a firewall dropping the request) is reported, not waited on for a whole timeout
CONNECT_TIMEOUT_S = 3.0
AE_TITLE = re.compile(r"^[\x20-\x5b\x5d-\x7e]{1,16}$")  # PS3.5: 16 characters, no backslash
_DICOM_URL = re.compile(r"^dicom://(?P<aet>[^@]+)@(?P<host>\[[^\]]+\]|[^:/]+):(?P<port>\d+)/?$")


class PacsError(Exception):
    """A PACS could not be used (down, refused, 4xx/5xx, timed out): a plain one-line message."""


@dataclass(frozen=True)
class WebNode:
    """A DICOMweb service root, e.g. ``http://127.0.0.1:8042/dicom-web``, and how to reach it
    (credentials, TLS: :class:`inference.pacs.access.WebAccess`; none by default)."""

    url: str
    access: WebAccess = field(default=WebAccess(), repr=False)

    @property
    def has_password_in_url(self) -> bool:
        """True for ``https://user:password@host/…``: a password that shows in ``ps`` and histories."""
        return urlsplit(self.url).password is not None

    @property
    def scheme(self) -> str:
        return urlsplit(self.url).scheme

    def __str__(self) -> str:
        """The URL without any user name or password in it (for messages and the audit)."""
        parts = urlsplit(self.url)
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port else host
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


@dataclass(frozen=True)
class DicomNode:
    """A DIMSE application entity."""

    ae_title: str
    host: str
    port: int

    def __str__(self) -> str:
        return f"dicom://{self.ae_title}@{self.host}:{self.port}"


def is_web_root(text: str) -> bool:
    """True for what names a DICOMweb server (``http(s)://…``) rather than a file or folder."""
    return text.startswith(("http://", "https://"))


def parse_destination(text: str) -> WebNode | DicomNode:
    """A node from ``http(s)://…`` or ``dicom://AE_TITLE@HOST:PORT``; ``ValueError`` says what is wrong."""
    if text.startswith("dicom://"):
        return _dicom_node(text)
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"not a PACS address: {text!r} (use http(s)://HOST/dicom-web or dicom://AE@HOST:PORT)"
        )
    return WebNode(text.rstrip("/"))


def _dicom_node(text: str) -> DicomNode:
    match = _DICOM_URL.match(text)
    if match is None:
        raise ValueError(f"not a DICOM address: {text!r} (expected dicom://AE_TITLE@HOST:PORT)")
    aet, port = match["aet"], int(match["port"])
    if not AE_TITLE.match(aet) or not aet.strip():
        raise ValueError(f"not a valid AE title: {aet!r} (1 to 16 characters, no backslash)")
    if not 0 < port < 65536:
        raise ValueError(f"not a valid port: {port}")
    return DicomNode(aet, match["host"].strip("[]"), port)


def ae_title(text: str) -> str:
    """argparse type: a valid AE title."""
    if not AE_TITLE.match(text) or not text.strip():
        raise ValueError(f"not a valid AE title: {text!r} (1 to 16 characters, no backslash)")
    return text
