"""The Test of a node typed in the Nodes tab, without Qt: ``echo_node`` reaches the node with the
credentials typed (not the OS credential store's) and calls it with this workstation's AE title."""

from __future__ import annotations

from inference.pacs.access import Credentials
from inference.pacs.destinations import WebNode
from viewer.core.pacs_nodes import PacsNode
from viewer.pacs_client import Step, echo_node

TYPED = Credentials("reader", "s3cret")


def never() -> bool:
    return False


def echoed(monkeypatch) -> list:
    calls: list = []
    monkeypatch.setattr("inference.pacs.transfer.echo", lambda node, calling: calls.append((node, calling)))
    return calls


def test_a_dicomweb_node_is_reached_with_the_credentials_typed(monkeypatch):
    calls = echoed(monkeypatch)
    node = PacsNode("New", "http://pacs.example/dicom-web")
    steps = list(echo_node(node, never, calling="READROOM1", credentials=TYPED))
    assert steps[-1] == Step(1, 1, "New answers.")
    [(destination, calling)] = calls
    assert isinstance(destination, WebNode) and destination.access.credentials == TYPED
    assert calling == "READROOM1"


def test_a_dimse_node_is_called_with_the_title_given(monkeypatch):
    calls = echoed(monkeypatch)
    node = PacsNode("Modality", "dicom://MOD@127.0.0.1:104")
    list(echo_node(node, never, calling="READROOM1"))
    assert calls == [(node.destination, "READROOM1")]
