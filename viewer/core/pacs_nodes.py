"""The PACS nodes the reader configured: a name and an address, in the syntax the ``send`` command takes
(``http(s)://HOST/dicom-web`` for DICOMweb, ``dicom://AE_TITLE@HOST:PORT`` for DIMSE). Kept in the
viewer settings as plain ``{"name", "address"}`` objects; one that no longer parses is dropped."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from inference.pacs.destinations import DicomNode, WebNode, parse_destination


@dataclass(frozen=True)
class PacsNode:
    name: str
    address: str

    @property
    def destination(self) -> WebNode | DicomNode:
        return parse_destination(self.address)

    @property
    def is_dicomweb(self) -> bool:
        return isinstance(self.destination, WebNode)

    def label(self) -> str:
        """How lists show the node: its name and its address without any password."""
        return f"{self.name} — {self.destination}"


def make_node(name: str, address: str) -> PacsNode:
    """A node from what the reader typed; ``ValueError`` says what is wrong with it."""
    name, address = name.strip(), address.strip()
    if not name:
        raise ValueError("give the node a name")
    parse_destination(address)  # a ValueError names what is wrong with it
    return PacsNode(name, address)


def nodes_from_settings(raw: object) -> list[PacsNode]:
    """The nodes a settings file holds; malformed entries are left out (a hand-edited file never crashes)."""
    nodes: dict[str, PacsNode] = {}
    for item in raw if isinstance(raw, list) else []:
        if isinstance(item, dict):
            try:
                node = make_node(str(item.get("name", "")), str(item.get("address", "")))
            except ValueError:
                continue
            nodes.setdefault(node.name, node)
    return list(nodes.values())


def nodes_to_settings(nodes: Sequence[PacsNode]) -> list[dict[str, str]]:
    return [{"name": node.name, "address": node.address} for node in nodes]


def with_node(nodes: Sequence[PacsNode], node: PacsNode) -> list[PacsNode]:
    """``nodes`` with ``node`` added, or replacing the node of the same name in its place."""
    if any(n.name == node.name for n in nodes):
        return [node if n.name == node.name else n for n in nodes]
    return [*nodes, node]


def without_node(nodes: Sequence[PacsNode], name: str) -> list[PacsNode]:
    return [n for n in nodes if n.name != name]
