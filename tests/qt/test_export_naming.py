"""Ctrl+E names the exported image after the study and the finding its heat map shows, never
overwrites an earlier export, and names it by the opaque study id alone while patient identifiers are
hidden; the PNG is the image at full resolution (issue #22, items 6 and 11)."""

from __future__ import annotations

import cv2
from PySide6.QtCore import Qt
from test_main_window import export_image, open_and_score, wait_image
from viewer_fakes import LABELS

from inference.worklist.deidentify import opaque_id


def show_heat_map(qtbot, window, finding: int) -> None:
    window.worklist.select_row(0)
    wait_image(qtbot, window)
    window.display.select_finding(finding)
    qtbot.waitUntil(lambda: window.image_view.heatmap() is not None, timeout=5000)


def test_ctrl_e_names_the_export_after_the_accession_and_the_finding(qtbot, window, tmp_path):
    open_and_score(qtbot, window, "2")
    show_heat_map(qtbot, window, 2)
    accession = window.current_row().meta.accession
    window.activateWindow()
    window.worklist.table.setFocus()
    # wait for the signal, not the file: the file is written before the signal reaches the window
    with qtbot.waitSignal(window.exports.imageExported, timeout=10_000) as exported:
        qtbot.keyClick(window.worklist.table, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    first = tmp_path / "exports" / f"{accession}_{LABELS[2]}.png"
    assert exported.args[0] == first and first.is_file()
    assert str(first) in window.statusBar().currentMessage()
    second = export_image(qtbot, window)
    assert second == tmp_path / "exports" / f"{accession}_{LABELS[2]}_2.png" and first.is_file()
    png = cv2.imread(str(second))
    assert png.shape[1] == window.image_view.image().pixels.shape[1]  # full resolution


def test_hidden_identifiers_name_the_export_by_the_opaque_study_id(qtbot, window, tmp_path):
    open_and_score(qtbot, window, "2")
    show_heat_map(qtbot, window, 0)
    row = window.current_row()
    window.actions_.deidentify.setChecked(True)
    path = export_image(qtbot, window)
    assert path == tmp_path / "exports" / f"{opaque_id(row.uid, 'study')}_{LABELS[0]}.png"
    assert row.meta.accession not in path.name and row.meta.path.stem not in path.name


def test_two_exports_started_at_once_never_take_the_same_name(qtbot, window, tmp_path):
    open_and_score(qtbot, window, "2")
    show_heat_map(qtbot, window, 1)
    written: list = []
    window.exports.imageExported.connect(written.append)
    window.export_image()
    window.export_image()  # while the first is still being drawn
    qtbot.waitUntil(lambda: len(written) == 2, timeout=10_000)
    assert len(set(written)) == 2 and all(path.is_file() for path in written)
