"""The PACS menu without a PACS: nodes are kept in the settings and come back after a restart,
settings files from before (or hand-edited ones) still load, a bad address is refused with a plain
message, and a node that does not answer gives a plain message (no traceback), off the GUI thread."""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path

from PySide6.QtCore import Qt

from viewer.core.pacs_nodes import PacsNode, nodes_from_settings
from viewer.core.settings import Settings
from viewer.qt.pacs_dialog import PacsDialog, Tab


def add_node(qtbot, dialog: PacsDialog, name: str, address: str) -> None:
    dialog.nodes_tab.node_name.setText(name)
    dialog.nodes_tab.node_address.setText(address)
    qtbot.mouseClick(dialog.nodes_tab.save_node_button, Qt.MouseButton.LeftButton)


def test_nodes_are_kept_in_the_settings_and_come_back(qtbot, window, tmp_path: Path) -> None:
    window.actions_.pacs_nodes.trigger()
    dialog = window.pacs
    assert dialog.isVisible() and dialog.tabs.currentIndex() == Tab.NODES
    add_node(qtbot, dialog, "Orthanc", "http://127.0.0.1:8042/dicom-web")
    add_node(qtbot, dialog, "Modality", "dicom://ORTHANC@127.0.0.1:4242")
    add_node(qtbot, dialog, "Orthanc", "https://pacs.example:8043/dicom-web/")  # same name: updated
    qtbot.waitUntil(lambda: (tmp_path / "settings.json").exists(), timeout=5000)
    window._save_settings()

    reloaded = Settings.load(tmp_path / "settings.json")
    assert nodes_from_settings(reloaded.pacs_nodes) == [
        PacsNode("Orthanc", "https://pacs.example:8043/dicom-web/"),
        PacsNode("Modality", "dicom://ORTHANC@127.0.0.1:4242"),
    ]
    again = PacsDialog(window.session, reloaded, lambda: None, lambda: None)
    qtbot.addWidget(again)
    assert again.nodes_tab.node_list.count() == 2
    assert again.query_tab.query_node.count() == 1  # queries need DICOMweb
    assert again.send_tab.send_node.count() == 2

    again.nodes_tab.node_list.setCurrentRow(1)
    qtbot.mouseClick(again.nodes_tab.remove_node_button, Qt.MouseButton.LeftButton)
    assert [n.name for n in again.nodes_tab.nodes] == ["Orthanc"]
    assert reloaded.pacs_nodes == [{"name": "Orthanc", "address": "https://pacs.example:8043/dicom-web/"}]


def test_a_bad_address_is_refused_with_a_plain_message(qtbot, window) -> None:
    window.show_pacs(Tab.NODES)
    add_node(qtbot, window.pacs, "Broken", "ftp://pacs")
    assert window.pacs.nodes_tab.nodes == []
    assert window.pacs.jobs.status.text().startswith("Not saved: not a PACS address")
    add_node(qtbot, window.pacs, "", "http://127.0.0.1:8042/dicom-web")
    assert window.pacs.jobs.status.text() == "Not saved: give the node a name"


def test_settings_from_before_the_pacs_menu_and_hand_edited_ones_still_load(tmp_path: Path) -> None:
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"deidentify": True, "recent_folders": ["/x"]}), encoding="utf-8")
    assert Settings.load(old).pacs_nodes == [] and Settings.load(old).deidentify
    edited = tmp_path / "edited.json"
    nodes = [{"name": "ok", "address": "dicom://A@h:104"}, {"name": "bad", "address": "nope"}, "junk", {}]
    edited.write_text(json.dumps({"pacs_nodes": nodes, "deidentify": True}), encoding="utf-8")
    loaded = Settings.load(edited)
    assert loaded.pacs_nodes == [{"name": "ok", "address": "dicom://A@h:104"}]
    assert loaded.deidentify


def test_testing_a_node_that_does_not_answer_gives_a_plain_message(qtbot, window) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once closed
    window.show_pacs(Tab.NODES)
    dialog = window.pacs
    add_node(qtbot, dialog, "Nobody", f"dicom://NOBODY@127.0.0.1:{port}")
    qtbot.mouseClick(dialog.nodes_tab.test_button, Qt.MouseButton.LeftButton)
    assert dialog.busy and not dialog.nodes_tab.test_button.isEnabled()
    qtbot.waitUntil(lambda: not dialog.busy, timeout=30_000)
    assert dialog.jobs.status.text().startswith(f"cannot reach dicom://NOBODY@127.0.0.1:{port}")
    assert "Traceback" not in dialog.jobs.status.text()
    assert dialog.nodes_tab.test_button.isEnabled()


def test_the_pacs_shortcuts_clash_with_no_other(window) -> None:
    from viewer.qt.actions import shortcut_table

    keys = [k for k, _ in shortcut_table(window.actions_)]
    assert len(keys) == len(set(keys))
    assert {"Ctrl+Shift+R", "Ctrl+Shift+U"} <= set(keys)


def test_esc_cancels_a_running_action_then_closes_the_window(qtbot, window, monkeypatch) -> None:
    release = threading.Event()
    monkeypatch.setattr("inference.pacs.transfer.echo", lambda node, calling: release.wait(10))
    window.show_pacs(Tab.NODES)
    dialog = window.pacs
    add_node(qtbot, dialog, "Slow", "dicom://SLOW@127.0.0.1:104")
    qtbot.mouseClick(dialog.nodes_tab.test_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.jobs.status.text() == "Testing Slow…", timeout=5000)
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    assert dialog.isVisible() and dialog.jobs.status.text().startswith("Cancelling")
    release.set()
    qtbot.waitUntil(lambda: not dialog.busy, timeout=10_000)
    assert dialog.jobs.status.text() == "Cancelled."
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    assert not dialog.isVisible()
