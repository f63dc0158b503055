"""Issue #22, problem 9: testing a node nobody answers says "cannot reach" at once (it took ~30 s),
for DIMSE (C-ECHO) and DICOMweb alike, off the GUI thread: a port nothing listens on (the connection
is refused), and a host that never completes the TCP handshake (a listener whose backlog is full
drops the connection requests, as a firewall does). Waits are bounded well above the target (under
2 s for a refused port, the connect timeout for a silent host), not timed."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from PySide6.QtCore import Qt

from viewer.qt.pacs_dialog import PacsDialog, Tab

BOUND_MS = 10_000  # old code: 30 s (the association, the HTTP request) before anything was said


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens there once closed


@contextmanager
def silent_port() -> Iterator[int]:
    """A port whose listener never accepts, its one-place backlog taken: the kernel drops every further
    connection request unanswered (no refusal), so a client waits for its connect timeout."""
    with socket.socket() as listener, socket.socket() as taken:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        taken.connect(("127.0.0.1", port))
        yield port


def address(kind: str, port: int) -> str:
    return f"dicom://NOBODY@127.0.0.1:{port}" if kind == "dimse" else f"http://127.0.0.1:{port}/dicom-web"


def press_test(qtbot, dialog: PacsDialog, address: str) -> str:
    tab = dialog.nodes_tab
    tab.node_name.setText("Nobody")
    tab.node_address.setText(address)
    qtbot.mouseClick(tab.test_button, Qt.MouseButton.LeftButton)
    assert dialog.busy and not tab.test_button.isEnabled()  # on the dialog's worker thread
    qtbot.waitUntil(lambda: not dialog.busy, timeout=BOUND_MS)
    return dialog.jobs.status.text()


@pytest.mark.parametrize("kind", ["dimse", "dicomweb"])
def test_a_refused_connection_says_cannot_reach_at_once(qtbot, window, kind: str) -> None:
    window.show_pacs(Tab.NODES)
    said = press_test(qtbot, window.pacs, address(kind, free_port()))
    assert said.startswith("cannot reach") and "Traceback" not in said


@pytest.mark.parametrize("kind", ["dimse", "dicomweb"])
def test_a_host_that_never_answers_says_cannot_reach_after_the_connect_timeout(qtbot, window, kind) -> None:
    window.show_pacs(Tab.NODES)
    with silent_port() as port:
        said = press_test(qtbot, window.pacs, address(kind, port))
    assert said.startswith("cannot reach") and "Traceback" not in said
