"""The Nodes tab's user, password and token fields write to the OS credential store (an in-memory
keyring backend here, never the tester's own), never to the settings; a password typed in the address
goes there too; removing a node forgets them; with no credential store they are refused and a
password left in a saved address is said in the tab."""

from __future__ import annotations

import json
from pathlib import Path

from memory_keyring import MemoryKeyring
from PySide6.QtCore import Qt

from inference.pacs.credential_store import SERVICE
from viewer.core.settings import Settings
from viewer.qt.pacs_dialog import PacsDialog, Tab

USER, PASSWORD, TOKEN = "reader", "Qt-Keyring-Pa55word-58", "Qt-Keyring-Token-41"  # noqa: S105


def save_node(qtbot, dialog: PacsDialog, name: str, address: str, user="", password="", token="") -> None:
    tab = dialog.nodes_tab
    tab.node_name.setText(name)
    tab.node_address.setText(address)
    tab.node_user.setText(user)
    tab.node_password.setText(password)
    tab.node_token.setText(token)
    qtbot.mouseClick(tab.save_node_button, Qt.MouseButton.LeftButton)


def saved_file(window, tmp_path: Path) -> bytes:
    window._save_settings()
    return (tmp_path / "settings.json").read_bytes()


def test_credentials_go_to_the_store_never_to_the_settings(
    qtbot, window, tmp_path: Path, memory_keyring: MemoryKeyring
) -> None:
    window.show_pacs(Tab.NODES)
    dialog, tab = window.pacs, window.pacs.nodes_tab
    save_node(qtbot, dialog, "Orthanc", "https://pacs.example/dicom-web", USER, PASSWORD)
    assert dialog.jobs.status.text() == "Saved Orthanc (its credentials in the OS credential store)."
    assert json.loads(memory_keyring.secrets[(SERVICE, "Orthanc")]) == {
        "username": USER,
        "password": PASSWORD,
    }
    assert tab.node_password.text() == ""  # the secret does not stay in the form
    assert tab.node_user.text() == USER and "stored" in tab.node_password.placeholderText()

    save_node(qtbot, dialog, "Orthanc", "https://pacs.example/dicom-web", USER)  # unchanged: kept
    assert json.loads(memory_keyring.secrets[(SERVICE, "Orthanc")])["password"] == PASSWORD
    save_node(qtbot, dialog, "Orthanc", "https://pacs.example/dicom-web", "someone-else")
    assert dialog.jobs.status.text() == "Not saved: a user name needs a password (or clear the user name)"
    save_node(qtbot, dialog, "Tokened", "https://other.example/dicom-web", token=TOKEN)
    assert json.loads(memory_keyring.secrets[(SERVICE, "Tokened")]) == {"token": TOKEN}
    save_node(qtbot, dialog, "Typed", f"https://{USER}:{PASSWORD}@third.example/dicom-web")
    assert json.loads(memory_keyring.secrets[(SERVICE, "Typed")]) == {"username": USER, "password": PASSWORD}

    written = saved_file(window, tmp_path)
    assert PASSWORD.encode() not in written and TOKEN.encode() not in written
    assert json.loads(written)["pacs_nodes"] == [
        {"name": "Orthanc", "address": "https://pacs.example/dicom-web"},
        {"name": "Tokened", "address": "https://other.example/dicom-web"},
        {"name": "Typed", "address": "https://third.example/dicom-web"},
    ]

    tab.node_list.setCurrentRow(0)
    qtbot.mouseClick(tab.remove_node_button, Qt.MouseButton.LeftButton)
    assert (SERVICE, "Orthanc") not in memory_keyring.secrets
    tab.node_list.setCurrentRow(0)  # Tokened
    qtbot.mouseClick(tab.forget_button, Qt.MouseButton.LeftButton)
    assert (SERVICE, "Tokened") not in memory_keyring.secrets
    assert [n.name for n in tab.nodes] == ["Tokened", "Typed"]


def test_a_dimse_node_takes_no_password(qtbot, window, memory_keyring: MemoryKeyring) -> None:
    window.show_pacs(Tab.NODES)
    save_node(qtbot, window.pacs, "Archive", "dicom://ARCHIVE@10.0.0.5:104", USER, PASSWORD)
    assert window.pacs.jobs.status.text() == "Not saved: a DIMSE node takes no password or token"
    assert window.pacs.nodes_tab.nodes == [] and memory_keyring.secrets == {}


def test_without_a_store_credentials_are_refused_and_never_written(
    qtbot, window, tmp_path: Path, no_keyring: None
) -> None:
    window.show_pacs(Tab.NODES)
    save_node(qtbot, window.pacs, "Orthanc", "https://pacs.example/dicom-web", USER, PASSWORD)
    assert window.pacs.jobs.status.text().startswith("Not saved: no OS credential store")
    save_node(qtbot, window.pacs, "Typed", f"https://{USER}:{PASSWORD}@pacs.example/dicom-web")
    assert window.pacs.jobs.status.text().startswith("Not saved: no OS credential store")
    assert window.pacs.nodes_tab.nodes == []
    assert PASSWORD.encode() not in saved_file(window, tmp_path)


def test_a_password_left_in_a_saved_address_is_said_in_the_tab(
    qtbot, window, tmp_path: Path, no_keyring
) -> None:
    path = tmp_path / "old-settings.json"
    nodes = [{"name": "Orthanc", "address": f"https://{USER}:{PASSWORD}@pacs.example/dicom-web"}]
    path.write_text(json.dumps({"pacs_nodes": nodes}), encoding="utf-8")
    dialog = PacsDialog(window.session, Settings.load(path), lambda: None, lambda: None)
    qtbot.addWidget(dialog)
    notice = dialog.nodes_tab.notice
    assert not notice.isHidden() and "no OS credential store" in notice.text() and "Orthanc" in notice.text()
    assert PASSWORD not in notice.text()
    assert window.pacs.nodes_tab.notice.isHidden()  # the window's own settings had nothing to say
