"""Issue #22, problem 9: this workstation's own (calling) AE title is set in the PACS dialog, checked
(1 to 16 characters of DICOM's AE repertoire, no backslash), kept in the settings, and is the title a
node sees: a real DIMSE listener that accepts only that title answers the Test."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from PySide6.QtCore import Qt

from inference.pacs.dimse import OWN_AE_TITLE, Access, Peer, Receiver
from viewer.core.pacs_nodes import DEFAULT_OWN_AE_TITLE
from viewer.core.settings import Settings
from viewer.qt.pacs_dialog import PacsDialog, Tab

READING_ROOM = "READROOM1"


@contextmanager
def listener_accepting(inbox: Path, calling: str) -> Iterator[int]:
    """A C-ECHO provider on 127.0.0.1 called ``PACS`` that accepts only ``calling``; yields its port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    receiver = Receiver(inbox, port, "PACS", bind="127.0.0.1", access=Access("PACS", [Peer(calling)]))
    receiver.start()
    try:
        yield port
    finally:
        receiver.stop()


def set_own_title(qtbot, dialog: PacsDialog, title: str) -> None:
    field = dialog.nodes_tab.own_ae_title
    field.selectAll()
    qtbot.keyClicks(field, title)
    qtbot.keyClick(field, Qt.Key.Key_Return)


def test_by_default_the_title_is_todays(window) -> None:
    assert DEFAULT_OWN_AE_TITLE == OWN_AE_TITLE
    window.show_pacs(Tab.NODES)
    assert window.pacs.nodes_tab.own_ae_title.text() == OWN_AE_TITLE


def test_a_valid_title_is_kept_in_the_settings_and_comes_back(qtbot, window, tmp_path: Path) -> None:
    window.show_pacs(Tab.NODES)
    set_own_title(qtbot, window.pacs, READING_ROOM)
    assert window.settings.pacs_ae_title == READING_ROOM
    assert window.pacs.jobs.status.text() == f"PACS nodes now see this workstation as {READING_ROOM}."
    path = window.settings.path  # written by the window's (debounced) settings save
    qtbot.waitUntil(lambda: Settings.load(path).pacs_ae_title == READING_ROOM, timeout=5000)
    reloaded = Settings.load(path)
    again = PacsDialog(window.session, reloaded, lambda: None, lambda: None)
    qtbot.addWidget(again)
    assert again.nodes_tab.own_ae_title.text() == READING_ROOM


def test_an_invalid_title_is_refused_and_the_kept_one_shown_again(qtbot, window) -> None:
    window.show_pacs(Tab.NODES)
    for bad in ("BACK\\SLASH", "   ", "ÄRZTE"):
        set_own_title(qtbot, window.pacs, bad)
        assert window.settings.pacs_ae_title == OWN_AE_TITLE
        assert window.pacs.jobs.status.text().startswith("Not kept: not a valid AE title")
        assert window.pacs.nodes_tab.own_ae_title.text() == OWN_AE_TITLE
    set_own_title(qtbot, window.pacs, "A" * 17)  # the field takes 16 characters at most
    assert window.settings.pacs_ae_title == "A" * 16


def test_a_hand_edited_invalid_title_loads_as_the_default(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text('{"pacs_ae_title": "' + "X" * 20 + '"}', encoding="utf-8")
    assert Settings.load(path).pacs_ae_title == OWN_AE_TITLE


def test_the_node_sees_the_title_set_here(qtbot, window, tmp_path: Path) -> None:
    window.show_pacs(Tab.NODES)
    dialog, tab = window.pacs, window.pacs.nodes_tab
    with listener_accepting(tmp_path / "inbox", READING_ROOM) as port:
        tab.node_name.setText("Reading room PACS")
        tab.node_address.setText(f"dicom://PACS@127.0.0.1:{port}")
        qtbot.mouseClick(tab.test_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: not dialog.busy, timeout=10_000)
        refused = dialog.jobs.status.text()
        assert "rejected the association" in refused and OWN_AE_TITLE in refused

        set_own_title(qtbot, dialog, READING_ROOM)
        qtbot.mouseClick(tab.test_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: not dialog.busy, timeout=10_000)
        assert dialog.jobs.status.text() == "Reading room PACS answers."
