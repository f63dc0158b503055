"""Issue #22, problem 9: the Nodes tab's Test button tests what is typed in the form (address, TLS
files, the credentials typed), without saving it: a real DICOMweb server on loopback checks the
credentials it is given; nothing reaches the node list, the settings or the OS credential store."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread

from PySide6.QtCore import Qt

from viewer.qt.pacs_dialog import PacsDialog, Tab


@contextmanager
def dicomweb_wanting(user: str, password: str) -> Iterator[str]:
    """A QIDO-RS root on 127.0.0.1 that answers an empty study list to ``user``:``password`` and 401
    to anyone else; yields its URL."""
    expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            allowed = self.headers.get("Authorization") == expected
            body = b"[]" if allowed else b""
            self.send_response(200 if allowed else 401)
            self.send_header("Content-Type", "application/dicom+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/dicom-web"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def type_node(dialog: PacsDialog, name: str, address: str, user: str = "", password: str = "") -> None:
    tab = dialog.nodes_tab
    tab.node_name.setText(name)
    tab.node_address.setText(address)
    tab.node_user.setText(user)
    tab.node_password.setText(password)


def press_test(qtbot, dialog: PacsDialog) -> str:
    qtbot.mouseClick(dialog.nodes_tab.test_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.busy, timeout=10_000)
    return dialog.jobs.status.text()


def test_a_typed_node_is_tested_with_the_credentials_typed_and_not_saved(qtbot, window) -> None:
    window.show_pacs(Tab.NODES)
    dialog = window.pacs
    with dicomweb_wanting("reader", "s3cret") as url:
        type_node(dialog, "New PACS", url, "reader", "wrong")
        assert "401" in press_test(qtbot, dialog)
        type_node(dialog, "New PACS", url, "reader", "s3cret")
        assert press_test(qtbot, dialog) == "New PACS answers."
    assert dialog.nodes_tab.nodes == [] and dialog.nodes_tab.node_list.count() == 0
    assert window.settings.pacs_nodes == []
    assert dialog.nodes_tab.node_password.text() == "s3cret"  # still there to save


def test_a_node_without_a_name_is_tested_by_its_address(qtbot, window) -> None:
    window.show_pacs(Tab.NODES)
    with dicomweb_wanting("reader", "pw") as url:
        type_node(window.pacs, "", url, "reader", "pw")
        assert press_test(qtbot, window.pacs) == f"{url} answers."


def test_what_cannot_be_tested_says_why_without_a_network_job(qtbot, window) -> None:
    window.show_pacs(Tab.NODES)
    dialog = window.pacs
    type_node(dialog, "Broken", "ftp://pacs")
    qtbot.mouseClick(dialog.nodes_tab.test_button, Qt.MouseButton.LeftButton)
    assert not dialog.busy and dialog.jobs.status.text().startswith("Not tested: not a PACS address")
    type_node(dialog, "Modality", "dicom://MOD@127.0.0.1:104", password="pw")
    qtbot.mouseClick(dialog.nodes_tab.test_button, Qt.MouseButton.LeftButton)
    assert not dialog.busy
    assert dialog.jobs.status.text() == "Not tested: a DIMSE node takes no password or token"
    type_node(dialog, "TLS", "dicom://MOD@127.0.0.1:104")
    dialog.nodes_tab.node_tls_ca.setText("/nowhere/ca.pem")
    qtbot.mouseClick(dialog.nodes_tab.test_button, Qt.MouseButton.LeftButton)
    assert not dialog.busy
    assert dialog.jobs.status.text() == "Not tested: cannot read the TLS CA file /nowhere/ca.pem"
