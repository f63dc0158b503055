"""The PACS nodes the reader configured: a name and an address, in the syntax the ``send`` command takes
(``http(s)://HOST/dicom-web`` for DICOMweb, ``dicom://AE_TITLE@HOST:PORT`` for DIMSE). Kept in the
viewer settings as plain ``{"name", "address"}`` objects, with ``tls_ca``, ``tls_cert`` and ``tls_key``
(paths of PEM files, not secrets) when the node has them; one that no longer parses is dropped.

A node's TLS files: for a ``dicom://`` node any of them turns DICOM TLS on (:class:`DicomTls`: the CA
that must have signed the PACS's certificate, our client certificate and its key); for a DICOMweb node
they are the site CA and client certificate of its :class:`WebAccess`.

A DICOMweb node's user name and password (or token) are never in the settings: they are in the OS
credential store under the node's name (:mod:`inference.pacs.credential_store`).
:func:`move_passwords_to_credential_store` moves a password still in a saved address there."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import unquote, urlsplit

from inference.pacs.access import Credentials, WebAccess
from inference.pacs.destinations import DicomNode, WebNode, ae_title, parse_destination
from inference.pacs.dicom_tls import DicomTls, TlsDicomNode
from inference.pacs.saved_nodes import without_credentials

# This workstation's (calling) AE title unless the reader sets another: inference.pacs.dimse.OWN_AE_TITLE,
# named here so that loading the settings does not load pynetdicom
DEFAULT_OWN_AE_TITLE = "CXRTRIAGE"


def own_ae_title(text: str) -> str:
    """This workstation's AE title as typed, checked: 1 to 16 characters of DICOM's default repertoire,
    no backslash, not only spaces (PS3.5); ``ValueError`` says what is wrong."""
    return ae_title(text.strip())


def own_ae_title_or_default(raw: object) -> str:
    """The AE title a settings file holds, or the default where it holds none or an invalid one."""
    try:
        return own_ae_title(raw) if isinstance(raw, str) else DEFAULT_OWN_AE_TITLE
    except ValueError:
        return DEFAULT_OWN_AE_TITLE


@dataclass(frozen=True)
class PacsNode:
    name: str
    address: str
    tls_ca: str = ""  # PEM file paths; "" = none
    tls_cert: str = ""
    tls_key: str = ""

    @property
    def tls_files(self) -> dict[str, str]:
        """The TLS files the node has, by their settings key (``tls_ca``, ``tls_cert``, ``tls_key``)."""
        given = {"tls_ca": self.tls_ca, "tls_cert": self.tls_cert, "tls_key": self.tls_key}
        return {key: value for key, value in given.items() if value}

    @property
    def destination(self) -> WebNode | DicomNode:
        """The node's address parsed, with its TLS files: a ``dicom://`` node that has any is a
        :class:`TlsDicomNode`; a DICOMweb node knows its CA and client certificate, and its name, by
        which its credentials are looked up in the OS credential store when it is reached
        (``viewer.pacs_client``). ``ValueError`` for a key without its certificate."""
        node = parse_destination(self.address)
        ca, cert, key = (Path(p) if p else None for p in (self.tls_ca, self.tls_cert, self.tls_key))
        if isinstance(node, WebNode):
            return replace(
                node, access=WebAccess(ca_file=ca, client_cert=cert, client_key=key, saved_as=self.name)
            )
        if self.tls_files:
            return TlsDicomNode(node.ae_title, node.host, node.port, DicomTls(cert, key, ca))
        return node

    @property
    def has_password_in_address(self) -> bool:
        node = self.destination
        return isinstance(node, WebNode) and node.has_password_in_url

    @property
    def is_dicomweb(self) -> bool:
        return isinstance(self.destination, WebNode)

    def label(self) -> str:
        """How lists show the node: its name and its address without any password."""
        return f"{self.name} — {self.destination}"


def make_node(name: str, address: str, tls_ca: str = "", tls_cert: str = "", tls_key: str = "") -> PacsNode:
    """A node from what the reader typed; ``ValueError`` says what is wrong with it (the TLS files are
    not read here: :func:`unreadable_tls_files`)."""
    name, address = name.strip(), address.strip()
    if not name:
        raise ValueError("give the node a name")
    node = PacsNode(name, address, tls_ca.strip(), tls_cert.strip(), tls_key.strip())
    node.destination  # noqa: B018 (a ValueError names what is wrong with the address or the TLS files)
    return node


TLS_FIELDS = {"tls_ca": "TLS CA file", "tls_cert": "TLS client certificate", "tls_key": "TLS key"}


def unreadable_tls_files(node: PacsNode) -> list[str]:
    """The node's TLS files that cannot be read, each as "TLS CA file PATH" (empty when all can)."""
    return [
        f"{TLS_FIELDS[key]} {path}"
        for key, path in node.tls_files.items()
        if not (Path(path).is_file() and os.access(path, os.R_OK))
    ]


def nodes_from_settings(raw: object) -> list[PacsNode]:
    """The nodes a settings file holds; malformed entries are left out (a hand-edited file never crashes)."""
    nodes: dict[str, PacsNode] = {}
    for item in raw if isinstance(raw, list) else []:
        if isinstance(item, dict):
            try:
                tls = (str(item.get(key) or "") for key in TLS_FIELDS)
                node = make_node(str(item.get("name", "")), str(item.get("address", "")), *tls)
            except ValueError:
                continue
            nodes.setdefault(node.name, node)
    return list(nodes.values())


def nodes_to_settings(nodes: Sequence[PacsNode]) -> list[dict[str, str]]:
    return [{"name": node.name, "address": node.address, **node.tls_files} for node in nodes]


def with_node(nodes: Sequence[PacsNode], node: PacsNode) -> list[PacsNode]:
    """``nodes`` with ``node`` added, or replacing the node of the same name in its place."""
    if any(n.name == node.name for n in nodes):
        return [node if n.name == node.name else n for n in nodes]
    return [*nodes, node]


def without_node(nodes: Sequence[PacsNode], name: str) -> list[PacsNode]:
    return [n for n in nodes if n.name != name]


def address_credentials(address: str) -> Credentials | None:
    """The user name and password written in a DICOMweb address (``https://user:pw@host/…``), or None."""
    parts = urlsplit(address)
    if parts.password is None:
        return None
    return Credentials(unquote(parts.username or ""), unquote(parts.password))


def move_passwords_to_credential_store(nodes: Sequence[PacsNode]) -> tuple[list[PacsNode], str]:
    """``nodes`` with every password still in an address moved into the OS credential store (under
    the node's name) and the address kept without it, and what to tell the reader ("" when there was
    nothing to move). Where there is no credential store, or it refuses, the nodes stay as they are
    (never one lost) and the message says so."""
    holding = [node for node in nodes if node.has_password_in_address]
    if not holding:
        return list(nodes), ""
    from inference.pacs import credential_store

    names = ", ".join(node.name for node in holding)
    reason = credential_store.unavailable()
    if reason:
        return list(nodes), (
            f"{reason}: the password in the saved address of {names} stays in the settings file;"
            " set the environment's credentials instead and remove it from the address"
        )
    moved: dict[str, PacsNode] = {}
    failures = []
    for node in holding:
        credentials = address_credentials(node.address)
        try:
            if credentials is None:
                raise ValueError("no password")
            credential_store.save(node.name, credentials)
        except ValueError as exc:  # a half set, or the store refused: keep this node as it is
            failures.append(f"{node.name}: {exc}")
            continue
        moved[node.name] = replace(node, address=without_credentials(node.address))
    out = [moved.get(node.name, node) for node in nodes]
    said = [f"moved the password of {', '.join(moved)} into the OS credential store"] if moved else []
    if failures:
        said.append(f"the password stays in the settings file for {'; '.join(failures)}")
    return out, "; ".join(said)
