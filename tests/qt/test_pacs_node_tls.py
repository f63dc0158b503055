"""The Nodes tab's TLS files: a CA, a client certificate and its key, each a field with a Browse…
button (reached with the keyboard), saved with the node in the settings file and shown again when the
settings are loaded anew; a file that cannot be read is refused on Save, with one line naming it; old
settings files without TLS files still load. The node's destination then carries them: DICOM TLS for a
``dicom://`` node, the CA and client certificate of a DICOMweb node's access."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QFileDialog, QLabel

from inference.pacs.destinations import WebNode
from inference.pacs.dicom_tls import TlsDicomNode
from viewer.core.pacs_nodes import nodes_from_settings
from viewer.core.settings import Settings
from viewer.qt.pacs_dialog import PacsDialog, Tab


def pem_files(folder: Path) -> dict[str, Path]:
    """Three readable files standing for the PEM files (the tab reads only whether they can be read)."""
    files = {key: folder / f"{key}.pem" for key in ("tls_ca", "tls_cert", "tls_key")}
    for key, path in files.items():
        path.write_text(f"-----BEGIN {key}-----\n")
    return files


def fill(qtbot, dialog: PacsDialog, name: str, address: str, files: dict[str, Path | str]) -> None:
    tab = dialog.nodes_tab
    tab.node_name.setText(name)
    tab.node_address.setText(address)
    for key, field in tab.tls_fields.items():
        field.setText(str(files.get(key, "")))
    qtbot.mouseClick(tab.save_node_button, Qt.MouseButton.LeftButton)


def test_tls_files_are_saved_with_the_node_and_come_back_from_the_settings_file(
    qtbot, window, tmp_path: Path
) -> None:
    files = pem_files(tmp_path)
    window.show_pacs(Tab.NODES)
    dialog = window.pacs
    fill(qtbot, dialog, "Secure", "dicom://PACS@10.0.0.5:2762", files)
    assert dialog.jobs.status.text() == "Saved Secure."
    fill(qtbot, dialog, "Web", "https://pacs.example/dicom-web", {"tls_ca": files["tls_ca"]})
    fill(qtbot, dialog, "Plain", "dicom://OLD@10.0.0.6:104", {})
    window._save_settings()

    saved = json.loads((tmp_path / "settings.json").read_text(encoding="utf-8"))["pacs_nodes"]
    assert saved == [
        {"name": "Secure", "address": "dicom://PACS@10.0.0.5:2762", **{k: str(p) for k, p in files.items()}},
        {"name": "Web", "address": "https://pacs.example/dicom-web", "tls_ca": str(files["tls_ca"])},
        {"name": "Plain", "address": "dicom://OLD@10.0.0.6:104"},  # none: as before
    ]

    reloaded = Settings.load(tmp_path / "settings.json")
    secure, web, plain = nodes_from_settings(reloaded.pacs_nodes)
    assert (secure.tls_ca, secure.tls_cert, secure.tls_key) == tuple(str(p) for p in files.values())
    destination = secure.destination
    assert isinstance(destination, TlsDicomNode)
    assert (destination.tls.ca_file, destination.tls.cert_file, destination.tls.key_file) == tuple(
        files.values()
    )
    web_node = web.destination
    assert isinstance(web_node, WebNode) and web_node.access.ca_file == files["tls_ca"]
    assert web_node.access.saved_as == "Web" and web_node.access.client_cert is None
    assert not isinstance(plain.destination, TlsDicomNode)

    other = PacsDialog(window.session, reloaded, lambda: None, lambda: None)  # a dialog on the reloaded file
    qtbot.addWidget(other)
    other.nodes_tab.node_list.setCurrentRow(0)
    assert [field.text() for field in other.nodes_tab.tls_fields.values()] == [str(p) for p in files.values()]
    other.nodes_tab.node_list.setCurrentRow(2)
    assert [field.text() for field in other.nodes_tab.tls_fields.values()] == ["", "", ""]


def test_a_tls_file_that_cannot_be_read_is_refused_on_save(qtbot, window, tmp_path: Path) -> None:
    files = pem_files(tmp_path)
    window.show_pacs(Tab.NODES)
    absent = tmp_path / "absent.pem"
    fill(qtbot, window.pacs, "Secure", "dicom://PACS@10.0.0.5:2762", {**files, "tls_cert": absent})
    assert window.pacs.jobs.status.text() == f"Not saved: cannot read the TLS client certificate {absent}"
    fill(qtbot, window.pacs, "Secure", "dicom://PACS@10.0.0.5:2762", {"tls_ca": tmp_path})  # a folder
    assert window.pacs.jobs.status.text() == f"Not saved: cannot read the TLS CA file {tmp_path}"
    fill(qtbot, window.pacs, "Secure", "dicom://PACS@10.0.0.5:2762", {"tls_key": files["tls_key"]})
    assert window.pacs.jobs.status.text().startswith("Not saved: --tls-key needs --tls-cert")
    assert window.pacs.nodes_tab.nodes == []


def test_an_old_settings_file_without_tls_files_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "old.json"
    nodes = [{"name": "Archive", "address": "dicom://ARCHIVE@10.0.0.5:104"}, {"name": "Bad", "tls_ca": 3}]
    path.write_text(json.dumps({"pacs_nodes": nodes}), encoding="utf-8")
    (node,) = nodes_from_settings(Settings.load(path).pacs_nodes)
    assert (node.name, node.tls_files) == ("Archive", {})
    assert not isinstance(node.destination, TlsDicomNode)


def test_browse_fills_the_field_and_is_reached_with_the_keyboard(
    qtbot, window, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chosen = tmp_path / "site-ca.pem"
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *args, **kwargs: (str(chosen), ""))
    window.show_pacs(Tab.NODES)
    tab = window.pacs.nodes_tab
    ca_field, browse = tab.tls_fields["tls_ca"], tab.browse_buttons["tls_ca"]
    labels = [label for label in tab.findChildren(QLabel) if label.buddy() is ca_field]
    assert [label.text() for label in labels] == ["TLS &CA:"]  # Alt+C reaches the field
    ca_field.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is ca_field)
    qtbot.keyClick(ca_field, Qt.Key.Key_Tab)
    assert QApplication.focusWidget() is browse  # Tab goes on to its Browse… button
    qtbot.keyClick(browse, Qt.Key.Key_Space)
    assert ca_field.text() == str(chosen)
