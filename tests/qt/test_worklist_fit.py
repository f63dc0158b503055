"""The worklist fits its pane (issue #22, problem 1): the columns a reader needs first (rank, priority,
top finding and probability, review) are whole and in view without scrolling sideways in a 565 px
pane, at 100% and at 150% scaling; header columns no study has are hidden; the rest are chosen from
the header's menu and remembered; accepted, rejected and reviewed studies look different."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from viewer_fakes import LABELS, entry, result

from inference.store import Review
from viewer.core.settings import Settings
from viewer.core.worklist_columns import Column
from viewer.qt.worklist_model import WorklistModel
from viewer.qt.worklist_panel import WorklistPanel

NEEDED = (Column.RANK, Column.FLAG, Column.FINDING, Column.PROBABILITY, Column.REVIEW)
PANE = 565
AT_150 = round(PANE / 1.5)  # QT_SCALE_FACTOR=1.5: the same pane is 377 device-independent pixels


def png(i: int):
    """A PNG study: no patient ID, accession or date; a long NIH file name."""
    e = entry(i, patient_id="", accession="", study_date="", view_position="")
    return dataclasses.replace(
        e, meta=dataclasses.replace(e.meta, path=Path(f"/data/nih/000{i:05d}_015.png"))
    )


def panel_on(qtbot, entries, width: int, choices: dict[str, bool] | None = None) -> WorklistPanel:
    model = WorklistModel()
    model.set_thresholds(dict.fromkeys(LABELS, 0.3))
    model.add_entries(entries)
    model.apply_results([result(e) for e in entries])
    uids = [e.meta.study_uid for e in entries]
    for uid, outcome, note in zip(
        uids, ("accepted", "rejected", "reviewed"), ("see the apex", "", ""), strict=False
    ):
        model.set_review(uid, Review(uid, outcome, note, "reader", "2024-01-02T10:00:00"))
    panel = WorklistPanel(model, {} if choices is None else choices)
    qtbot.addWidget(panel)
    panel.resize(width, 600)
    panel.show()
    qtbot.waitExposed(panel)
    return panel


def whole_and_in_view(panel: WorklistPanel, column: Column) -> bool:
    table, header = panel.table, panel.table.horizontalHeader()
    c = int(column)
    start = header.sectionViewportPosition(c)
    fits = start >= 0 and start + header.sectionSize(c) <= table.viewport().width()
    whole = header.sectionSize(c) >= max(table.sizeHintForColumn(c), header.sectionSizeHint(c))
    return not table.isColumnHidden(c) and fits and whole


@pytest.mark.parametrize("width", [PANE, AT_150], ids=["100%", "150%"])
def test_the_columns_a_reader_needs_are_whole_without_scrolling_sideways(qtbot, width):
    panel = panel_on(qtbot, [entry(i) for i in range(12)], width)
    qtbot.waitUntil(lambda: all(whole_and_in_view(panel, c) for c in NEEDED), timeout=2000)
    assert panel.table.horizontalScrollBar().value() == 0
    if width == PANE:  # then the DICOM header's facts
        assert all(whole_and_in_view(panel, c) for c in (Column.PATIENT, Column.ACCESSION, Column.DATE))


def test_a_folder_of_pngs_shows_every_shown_column_whole_in_565_px(qtbot):
    panel = panel_on(qtbot, [png(i) for i in range(12)], PANE)
    for column in (Column.PATIENT, Column.ACCESSION, Column.DATE, Column.VIEW):
        assert panel.table.isColumnHidden(int(column))  # no study has one
    qtbot.waitUntil(lambda: all(whole_and_in_view(panel, c) for c in (*NEEDED, Column.FILE)), timeout=2000)


def test_header_columns_appear_when_a_study_has_them(qtbot):
    panel = panel_on(qtbot, [png(i) for i in range(3)], PANE)
    assert panel.table.isColumnHidden(int(Column.PATIENT))
    dicom = entry(50)
    panel.model.add_entries([dicom])
    qtbot.waitUntil(lambda: not panel.table.isColumnHidden(int(Column.PATIENT)), timeout=2000)


def test_the_header_menu_chooses_columns_and_the_choice_is_kept(qtbot, tmp_path):
    settings = Settings(path=tmp_path / "settings.json")
    panel = panel_on(qtbot, [png(i) for i in range(3)], PANE, settings.worklist_columns)
    menu = panel.columns_menu
    by_name = {a.text().replace("&", ""): a for a in menu.actions()}
    assert by_name["Status"].isCheckable() and not by_name["Status"].isChecked()
    assert panel.table.isColumnHidden(int(Column.STATUS))
    by_name["Status"].trigger()
    assert not panel.table.isColumnHidden(int(Column.STATUS))
    by_name["Patient ID"].trigger()  # chosen: shown although no study has one
    assert not panel.table.isColumnHidden(int(Column.PATIENT))
    by_name["Top finding"].trigger()
    assert panel.table.isColumnHidden(int(Column.FINDING))
    settings.save()

    again = Settings.load(settings.path)
    assert again.worklist_columns == {"status": True, "patient": True, "finding": False}
    second = panel_on(qtbot, [png(i) for i in range(3)], PANE, again.worklist_columns)
    assert not second.table.isColumnHidden(int(Column.STATUS))
    assert second.table.isColumnHidden(int(Column.FINDING))
    assert not second.table.isColumnHidden(int(Column.PATIENT))


def test_the_header_offers_the_menu_on_right_click(qtbot):
    panel = panel_on(qtbot, [png(i) for i in range(3)], PANE)
    header = panel.table.horizontalHeader()
    assert header.contextMenuPolicy() == Qt.ContextMenuPolicy.CustomContextMenu
    shown: list[bool] = []
    panel.columns_menu.aboutToShow.connect(lambda: (shown.append(True), panel.columns_menu.close()))
    header.customContextMenuRequested.emit(header.rect().center())
    qtbot.waitUntil(lambda: bool(shown), timeout=2000)


def test_accepted_rejected_and_reviewed_look_different_and_not_greyed(qtbot):
    panel = panel_on(qtbot, [entry(i) for i in range(4)], PANE)
    model = panel.model
    uids = ["1.2.0", "1.2.1", "1.2.2", "1.2.3"]  # accepted, rejected, reviewed, none

    def looks(uid: str, column: Column, role: Qt.ItemDataRole):
        value = model.index_of(uid, column).data(role)
        if value is None:
            return None
        return value.color().name() if hasattr(value, "color") else value.cacheKey()

    backgrounds = [looks(u, Column.FINDING, Qt.ItemDataRole.BackgroundRole) for u in uids]
    assert len(set(backgrounds)) == 4 and backgrounds[3] is None
    icons = [looks(u, Column.REVIEW, Qt.ItemDataRole.DecorationRole) for u in uids]
    assert len(set(icons[:3])) == 3 and icons[3] is None
    marks = [looks(u, Column.REVIEW, Qt.ItemDataRole.ForegroundRole) for u in uids[:3]]
    assert len(set(marks)) == 3
    grey = "#888888"
    for uid in uids[:3]:  # reviewed is not greyed out
        assert looks(uid, Column.FILE, Qt.ItemDataRole.ForegroundRole) != grey


def test_a_study_without_a_finding_says_its_state_in_the_finding_column(qtbot):
    from inference.api import Status

    lateral = entry(9, status=Status.NOT_SCORED, reason="lateral view")
    panel = panel_on(qtbot, [entry(0), lateral], PANE)
    text = panel.model.index_of(lateral.meta.study_uid, Column.FINDING).data()
    assert text == "not scored: lateral view"


def test_the_window_offers_the_columns_in_its_view_menu_and_keeps_the_choice(qtbot, window):
    view = next(a.menu() for a in window.menuBar().actions() if a.text() == "&View")
    assert window.worklist.columns_menu in [a.menu() for a in view.actions()]  # Alt+V, C: no mouse needed
    status = next(a for a in window.worklist.columns_menu.actions() if a.text() == "Status")
    status.trigger()
    assert window.settings.worklist_columns == {"status": True}


def test_a_column_grows_when_its_text_does(qtbot):
    model = WorklistModel()
    model.set_thresholds(dict.fromkeys(LABELS, 0.3))
    entries = [entry(i) for i in range(5)]
    model.add_entries(entries)
    model.apply_results([result(e) for e in entries])
    panel = WorklistPanel(model, {})
    qtbot.addWidget(panel)
    panel.resize(PANE, 600)
    panel.show()
    qtbot.waitExposed(panel)
    uid = entries[0].meta.study_uid
    model.set_review(uid, Review(uid, "accepted", "see the apex", "reader", "2024-01-02T10:00:00"))
    qtbot.waitUntil(lambda: whole_and_in_view(panel, Column.REVIEW), timeout=2000)


def test_a_long_patient_id_is_elided_not_pushing_the_other_columns_away(qtbot):
    long_id = "16d7f894-55d7-4d95-8957-d18987f0c0a1"
    panel = panel_on(qtbot, [entry(0, patient_id=long_id), *(entry(i) for i in range(1, 6))], PANE)
    qtbot.waitUntil(
        lambda: all(whole_and_in_view(panel, c) for c in (*NEEDED, Column.ACCESSION)), timeout=2000
    )
    index = panel.model.index_of("1.2.0", Column.PATIENT)
    assert index.data(Qt.ItemDataRole.ToolTipRole) == long_id  # whole in the tooltip
