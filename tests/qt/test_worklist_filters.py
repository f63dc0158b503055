"""The worklist's filters show their state: the finding filtered on is named, one clear-all (button and
Esc in the search box) undoes every filter, "Showing N of M" says when rows are hidden, and the
search finds what a reader types (issue #22, problem 8). Ctrl+F goes to the search box and typing
there or in the table never jumps rows or fires a single-letter shortcut (problem 7, in part)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from viewer_fakes import LABELS, entry, result

from inference.api import ScanEntry
from viewer.core.worklist_columns import Column
from viewer.qt.worklist_model import WorklistModel
from viewer.qt.worklist_panel import WorklistPanel


def scored_panel(qtbot, n: int = 30) -> WorklistPanel:
    """A 565 px pane, shown before the model's findings are known (as in the window)."""
    model = WorklistModel()
    model.set_thresholds(dict.fromkeys(LABELS, 0.5))
    entries = [entry(i) for i in range(n)]
    model.add_entries(entries)
    model.apply_results([result(e) for e in entries])
    panel = WorklistPanel(model)
    qtbot.addWidget(panel)
    panel.resize(565, 600)
    panel.show()
    qtbot.waitExposed(panel)
    panel.set_findings(LABELS)
    return panel


def test_the_filter_names_its_finding_in_full(qtbot):
    panel = scored_panel(qtbot)
    panel.set_finding_filter("Pneumothorax")
    combo = panel.filters.combo
    assert "Pneumothorax" in combo.currentText()
    qtbot.waitUntil(lambda: combo.width() >= combo.sizeHint().width(), timeout=2000)  # the name is not cut


def test_a_count_says_how_many_rows_a_filter_and_search_show(qtbot):
    panel = scored_panel(qtbot)
    model = panel.model
    assert "30" in panel.filters.count_label.text()
    panel.set_finding_filter("Effusion")
    shown = panel.proxy.rowCount()
    assert 0 < shown < 30
    assert panel.filters.count_label.isVisible()
    assert panel.filters.count_label.text().startswith(f"Showing {shown} of 30")
    assert "Effusion" in panel.filters.count_label.text()
    panel.search.setText("PID0000")  # studies 0-9, on top of the filter
    searched = panel.proxy.rowCount()
    assert panel.filters.count_label.text().startswith(f"Showing {searched} of 30")
    model.add_entries([entry(30)])  # a new arrival counts at once
    assert f"of {model.rowCount()}" in panel.filters.count_label.text()


def test_clear_all_button_and_escape_undo_every_filter(qtbot):
    panel = scored_panel(qtbot)
    assert not panel.filters.clear_button.isEnabled()
    panel.set_finding_filter("Effusion")
    panel.search.setText("pid")
    assert panel.filters.clear_button.isEnabled()
    qtbot.mouseClick(panel.filters.clear_button, Qt.MouseButton.LeftButton)
    assert (
        panel.proxy.rowCount() == 30 and panel.search.text() == "" and panel.filters.combo.currentIndex() == 0
    )
    assert not panel.filters.clear_button.isEnabled()

    panel.set_finding_filter("Effusion")
    panel.search.setText("pid")
    panel.activateWindow()
    panel.search.setFocus()
    qtbot.waitUntil(panel.search.hasFocus, timeout=2000)
    qtbot.keyClick(panel.search, Qt.Key.Key_Escape)
    assert (
        panel.proxy.rowCount() == 30 and panel.search.text() == "" and panel.filters.combo.currentIndex() == 0
    )


def test_search_finds_any_file_of_a_study_and_ignores_case(qtbot):
    panel = scored_panel(qtbot, 3)
    lead = entry(7)
    lateral: ScanEntry = dataclasses.replace(
        lead, meta=dataclasses.replace(lead.meta, path=Path("/data/lateral_J2KR.dcm"), view_position="LL")
    )
    panel.model.add_entries([lead, lateral])
    panel.model.apply_results([result(lead)])
    panel.search.setText("j2kr")  # only the study's second file carries it
    assert panel.proxy.rowCount() == 1 and panel.proxy.uid_at(0) == lead.meta.study_uid
    panel.search.setText("acc00001")
    assert panel.proxy.rowCount() == 1
    panel.search.setText("  EFFUSION ")
    assert panel.proxy.rowCount() == sum("Effusion" in r.positives for r in panel.model.worklist.rows)


def test_typing_in_the_table_never_jumps_rows(qtbot):
    panel = scored_panel(qtbot)
    table = panel.table
    panel.select_row(3)
    table.setCurrentIndex(panel.proxy.index(3, int(Column.FILE)))
    panel.activateWindow()
    table.setFocus()
    qtbot.waitUntil(table.hasFocus, timeout=2000)
    qtbot.keyClicks(table, "st")  # every file name starts with "study"
    assert table.currentIndex().row() == 3


def test_ctrl_f_focuses_the_search_and_typing_there_fires_no_shortcut(qtbot, window):
    window.open_paths([Path("6")])
    rows = window.session.worklist_model.worklist.rows
    qtbot.waitUntil(
        lambda: not window.session.busy and len(rows) == 6 and all(r.result for r in rows), timeout=10_000
    )
    qtbot.waitUntil(lambda: window.image_view.image() is not None, timeout=5000)
    search = window.worklist.search
    search.setText("old")
    window.activateWindow()
    window.worklist.table.setFocus()
    qtbot.waitUntil(window.worklist.table.hasFocus, timeout=2000)
    qtbot.keyClick(window.worklist.table, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert QApplication.focusWidget() is search and search.selectedText() == "old"

    toggles = (window.actions_.invert, window.actions_.heatmap)
    before = [a.isChecked() for a in toggles]
    qtbot.keyClicks(search, "covid hi")
    assert search.text() == "covid hi"
    assert [a.isChecked() for a in toggles] == before
    assert all(r.review is None for r in rows)
    search.clear()
    qtbot.keyClicks(search, "ax n1 ")
    assert search.text() == "ax n1 " and all(r.review is None for r in rows)


def test_escape_clears_the_search_there_and_cancels_elsewhere(qtbot, window):
    cancels: list[bool] = []
    window.actions_.cancel.triggered.connect(lambda *_: cancels.append(True))
    search = window.worklist.search
    window.activateWindow()
    window.actions_.find_in_worklist.trigger()
    qtbot.waitUntil(search.hasFocus, timeout=2000)
    qtbot.keyClicks(search, "pid")
    qtbot.keyClick(search, Qt.Key.Key_Escape)
    assert search.text() == "" and cancels == []  # the search took Esc
    qtbot.keyClick(search, Qt.Key.Key_Escape)  # nothing left to clear: the window's Esc
    assert len(cancels) == 1
    window.worklist.table.setFocus()
    qtbot.waitUntil(window.worklist.table.hasFocus, timeout=2000)
    qtbot.keyClick(window.worklist.table, Qt.Key.Key_Escape)
    assert len(cancels) == 2


def test_the_count_follows_new_thresholds_under_a_filter(qtbot):
    panel = scored_panel(qtbot)
    panel.set_finding_filter("Effusion")
    before = panel.proxy.rowCount()
    panel.model.set_thresholds(dict.fromkeys(LABELS, 0.05))  # more studies are positive for it
    assert panel.proxy.rowCount() > before
    assert panel.filters.count_label.text().startswith(f"Showing {panel.proxy.rowCount()} of 30")
