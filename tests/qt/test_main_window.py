"""The main window on a fake back end: streaming, navigation, overlay, PHI, thresholds, export."""

from __future__ import annotations

import logging
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from viewer_fakes import LABELS

from inference.models.registry import CHECKPOINT_FORMATS
from viewer.core.settings import Settings
from viewer.core.worklist import RowState
from viewer.core.worklist_columns import Column
from viewer.qt.worklist_model import HIDDEN, UID_ROLE


def open_and_score(qtbot, win, folder: str) -> None:
    win.open_paths([Path(folder)])
    qtbot.waitUntil(
        lambda: not win.session.busy and win.session.worklist_model.rowCount() > 0, timeout=10_000
    )
    rows = win.session.worklist_model.worklist.rows
    qtbot.waitUntil(
        lambda: all(r.state not in (RowState.QUEUED, RowState.SCORING) for r in rows), timeout=10_000
    )


def wait_image(qtbot, win) -> None:
    qtbot.waitUntil(lambda: win.image_view.image() is not None, timeout=5000)


def export_image(qtbot, win) -> Path:
    """Ctrl+E's command, and the path of the PNG once written (in the background)."""
    with qtbot.waitSignal(win.exports.imageExported, timeout=10_000) as exported:
        win.export_image()
    return exported.args[0]


def test_studies_stream_in_and_are_ranked(qtbot, window):
    open_and_score(qtbot, window, "12")
    model = window.session.worklist_model
    assert model.rowCount() == 12
    assert [model.row_at(r).rank for r in range(12)] == list(range(1, 13))
    assert window.worklist.current_uid() is not None  # first study selected as soon as it arrived
    wait_image(qtbot, window)
    assert window.model_label.text() == "Model: fake-model 1.0 on the CPU"


def test_opening_again_replaces_the_worklist_and_shows_its_first_study(qtbot, window):
    open_and_score(qtbot, window, "4")
    first = window.worklist.current_uid()
    assert first is not None
    open_and_score(qtbot, window, "mixed")
    assert window.session.worklist_model.rowCount() == 8
    current = window.worklist.table.selectionModel().currentIndex
    qtbot.waitUntil(lambda: current().isValid(), timeout=3000)
    assert current().data(UID_ROLE) == window.worklist.current_uid()


def test_arrow_keys_move_between_studies(qtbot, window):
    open_and_score(qtbot, window, "6")
    table = window.worklist.table
    window.worklist.select_row(0)
    table.setFocus()
    window.activateWindow()
    qtbot.waitUntil(lambda: table.hasFocus(), timeout=2000)
    first = window.worklist.current_uid()
    qtbot.keyClick(table, Qt.Key.Key_Down)
    second = window.worklist.current_uid()
    assert second != first and second == window.worklist.proxy.uid_at(1)
    qtbot.keyClick(table, Qt.Key.Key_Up)
    assert window.worklist.current_uid() == first
    window.actions_.next_study.trigger()
    window.actions_.next_study.trigger()
    assert window.worklist.current_uid() == window.worklist.proxy.uid_at(2)


def test_number_keys_select_findings_and_space_moves_on_marking_nothing(qtbot, window):
    open_and_score(qtbot, window, "4")
    window.worklist.select_row(0)
    window.activateWindow()
    window.worklist.table.setFocus()
    qtbot.keyClick(window.worklist.table, Qt.Key.Key_3)
    assert window.findings.selected_finding() == LABELS[2]
    uid = window.worklist.current_uid()
    qtbot.keyClick(window.worklist.table, Qt.Key.Key_Space)
    assert window.session.worklist_model.worklist.get(uid).review is None  # Space marks nothing
    assert window.worklist.current_uid() == window.worklist.proxy.uid_at(1)  # it moved on


def test_space_goes_to_the_next_unreviewed_study_and_never_touches_a_mark(qtbot, window):
    """Issue #22, problem 3: A, then Space twice used to end with the mark removed. Space now moves to
    the next study below without a mark (skipping reviewed ones), or does nothing at the end; only
    A/X/N/Backspace change marks."""
    open_and_score(qtbot, window, "4")
    window.activateWindow()
    window.worklist.table.setFocus()
    rows = window.session.worklist_model.worklist
    uids = [window.worklist.proxy.uid_at(i) for i in range(4)]
    window.worklist.select_uid(uids[1])
    qtbot.keyClick(window.worklist.table, Qt.Key.Key_X)  # rank 2 rejected
    window.worklist.select_uid(uids[0])
    qtbot.keyClick(window.worklist.table, Qt.Key.Key_A)
    assert rows.get(uids[0]).review.outcome == "accepted"
    qtbot.keyClick(window.worklist.table, Qt.Key.Key_Space)  # over the rejected rank 2
    assert window.worklist.current_uid() == uids[2]
    assert rows.get(uids[0]).review.outcome == "accepted" and rows.get(uids[1]).review.outcome == "rejected"
    assert rows.get(uids[2]).review is None
    qtbot.keyClick(window.worklist.table, Qt.Key.Key_Space)
    assert window.worklist.current_uid() == uids[3]
    qtbot.keyClick(window.worklist.table, Qt.Key.Key_Space)  # the last: nothing below it
    assert window.worklist.current_uid() == uids[3] and rows.get(uids[3]).review is None
    assert "No unreviewed study" in window.statusBar().currentMessage()
    window.worklist.select_uid(uids[0])
    qtbot.keyClick(window.worklist.table, Qt.Key.Key_Backspace)
    assert rows.get(uids[0]).review is None


def test_heatmap_is_computed_on_demand_cached_and_toggled(qtbot, window, fake_service):
    open_and_score(qtbot, window, "3")
    window.worklist.select_row(0)
    wait_image(qtbot, window)
    window.display.select_finding(1)
    qtbot.waitUntil(lambda: window.image_view.heatmap() is not None, timeout=5000)
    heatmap = window.image_view.heatmap()
    assert heatmap.label == LABELS[1]
    # the status bar gives the map's probability, the scored input's (the fake's: the row's)
    assert f"(p = {heatmap.probability:.2f})" in window.statusBar().currentMessage()
    calls = len(fake_service.explained)
    # Overlay toggle (H) hides and shows it; the cached heat map is reused.
    window.actions_.heatmap.trigger()
    assert not window.image_view.overlay_visible()
    window.actions_.heatmap.trigger()
    assert window.image_view.overlay_visible()
    for index in (0, 1, 0, 1):
        window.display.select_finding(index)
        qtbot.waitUntil(
            lambda i=index: getattr(window.image_view.heatmap(), "label", "") == LABELS[i], timeout=5000
        )
    explained = fake_service.explained
    assert len(explained) <= calls + 1  # at most finding 0 was new; every repeat came from the cache
    assert len(set(explained)) == len(explained)  # never the same study and finding twice
    assert len(fake_service.threads) == 1  # predict and explain ran on one owner thread


def test_invert_and_reset_actions(qtbot, window):
    open_and_score(qtbot, window, "2")
    wait_image(qtbot, window)
    window.actions_.invert.trigger()
    assert window.image_view.inverted()
    window.image_view.set_window(0.2, 0.1)
    window.actions_.reset_view.trigger()
    assert window.image_view.window() == (0.5, 1.0)


def test_phi_toggle_hides_ids_in_the_worklist(qtbot, window):
    open_and_score(qtbot, window, "5")
    model = window.session.worklist_model
    assert model.index(0, Column.PATIENT).data().startswith("PID")
    window.worklist.select_row(0)
    patient = window.current_row().meta.patient_id
    assert patient in window.caption.text()
    window.actions_.deidentify.trigger()
    assert {model.index(r, Column.PATIENT).data() for r in range(5)} == {HIDDEN}
    assert patient not in window.caption.text() and ".dcm" not in window.caption.text()
    assert window.settings.deidentify


def test_threshold_change_reranks_the_worklist_immediately(qtbot, window):
    open_and_score(qtbot, window, "20")
    model = window.session.worklist_model
    window.findings.edit_thresholds({**dict.fromkeys(LABELS, 0.99), "Effusion": 0.01})
    top = model.row_at(0)
    assert top.positives[0] == "Effusion"
    assert top.probabilities["Effusion"] == max(r.probabilities["Effusion"] for r in model.worklist.rows)
    assert window.worklist.proxy.uid_at(0) == top.uid
    # Saved for this model's weights.
    assert window.settings.thresholds[window.session.info.card.weights_sha256]["Effusion"] == 0.01


def test_bad_studies_show_their_reason(qtbot, window):
    open_and_score(qtbot, window, "mixed")
    model = window.session.worklist_model
    statuses = {model.row_at(r).uid: model.index(r, Column.STATUS).data() for r in range(model.rowCount())}
    assert statuses["1.2.90"] == "error: corrupt DICOM header"
    assert statuses["1.2.91"] == "not scored: lateral view"
    assert statuses["1.2.92"].startswith("error: corrupt file")
    window.worklist.select_uid("1.2.90")
    qtbot.waitUntil(lambda: "corrupt DICOM header" in window.image_view.message(), timeout=3000)
    window.worklist.select_uid("1.2.92")
    qtbot.waitUntil(lambda: "corrupt file" in window.image_view.message(), timeout=3000)
    window.worklist.select_uid("1.2.91")
    wait_image(qtbot, window)  # a lateral is shown, just not scored, and the caption says why
    assert "not scored: lateral view" in window.caption.text()


def test_filter_combo_and_search(qtbot, window):
    open_and_score(qtbot, window, "20")
    panel = window.worklist
    panel.set_finding_filter("Cardiomegaly")
    assert 0 < panel.proxy.rowCount() < 20
    panel.set_finding_filter(None)
    panel.search.setText("PID00003")
    assert panel.proxy.rowCount() == 1


def exported_pixels(path: Path) -> np.ndarray:
    image = QImage(str(path)).convertToFormat(QImage.Format.Format_RGB888)
    ptr = image.constBits()
    return (
        np.frombuffer(ptr, np.uint8)
        .reshape(image.height(), image.bytesPerLine())[:, : image.width() * 3]
        .copy()
    )


def test_export_writes_png_and_overlay_changes_pixels(qtbot, window, tmp_path):
    open_and_score(qtbot, window, "3")
    window.worklist.select_row(0)
    wait_image(qtbot, window)
    window.display.select_finding(0)
    qtbot.waitUntil(lambda: window.image_view.heatmap() is not None, timeout=5000)
    with_overlay = export_image(qtbot, window)
    assert with_overlay.is_file()
    assert str(with_overlay) in window.statusBar().currentMessage()
    window.actions_.heatmap.trigger()  # overlay off
    without = export_image(qtbot, window)
    h = window.image_view.image().pixels.shape[0]  # the picture; the text band below it differs anyway
    a, b = exported_pixels(with_overlay)[:h], exported_pixels(without)[:h]
    assert a.shape == b.shape and not np.array_equal(a, b)


def test_export_worklist_writes_csv_and_json(qtbot, window):
    open_and_score(qtbot, window, "mixed")
    out = window.export_worklist()
    assert out is not None
    csv_path, json_path = out
    text = csv_path.read_text()
    assert "corrupt DICOM header" in text and "lateral view" in text
    assert json_path.is_file()


def test_cancel_stops_scoring_and_requeues(qtbot, backend, window, fake_service):
    fake_service.delay = 0.05
    window.open_paths([Path("200")])
    qtbot.waitUntil(lambda: window.session.model_thread.busy_scoring, timeout=5000)
    qtbot.waitUntil(
        lambda: any(r.state is RowState.SCORED for r in window.session.worklist_model.worklist.rows),
        timeout=5000,
    )
    window.cancel_work()
    qtbot.waitUntil(lambda: not window.session.busy, timeout=5000)
    states = {r.state for r in window.session.worklist_model.worklist.rows}
    assert RowState.SCORING not in states and RowState.QUEUED in states
    assert "cancelled" in window.statusBar().currentMessage()


def test_settings_persist_between_runs(qtbot, window, backend, tmp_path):
    window.actions_.deidentify.trigger()
    window.findings.edit_thresholds({"Effusion": 0.33})
    window.close()
    saved = Settings.load(tmp_path / "settings.json")
    assert saved.deidentify and saved.window_geometry
    assert saved.last_model.endswith("fake-package")
    sha = window.session.info.card.weights_sha256
    assert saved.thresholds[sha]["Effusion"] == pytest.approx(0.33)


def test_shortcut_keys_toggle_overlay_and_inversion(qtbot, window):
    open_and_score(qtbot, window, "2")
    wait_image(qtbot, window)
    window.activateWindow()
    window.worklist.table.setFocus()
    qtbot.waitUntil(window.worklist.table.hasFocus, timeout=2000)
    overlay = window.image_view.overlay_visible()
    qtbot.keyClick(window.worklist.table, Qt.Key.Key_H)
    assert window.image_view.overlay_visible() is not overlay
    qtbot.keyClick(window.worklist.table, Qt.Key.Key_I)
    assert window.image_view.inverted()
    # Letters typed into the search box are text, not shortcuts.
    window.worklist.search.setFocus()
    qtbot.keyClicks(window.worklist.search, "hi")
    assert window.worklist.search.text() == "hi" and window.image_view.inverted()


def test_dropping_files_adds_them_and_folders_become_recent(qtbot, window, tmp_path):
    from PySide6.QtCore import QMimeData, QPointF, QUrl
    from PySide6.QtGui import QDropEvent

    folder = tmp_path / "3"
    folder.mkdir()
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(folder))])
    event = QDropEvent(
        QPointF(10, 10),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    window.dropEvent(event)
    qtbot.waitUntil(lambda: window.session.worklist_model.rowCount() == 3, timeout=5000)
    assert window.settings.recent_folders[0] == str(folder)
    window.opening.fill_recent_menu(window.actions_.recent_menu)
    assert [a.text() for a in window.actions_.recent_menu.actions()] == [str(folder)]


def test_demo_banner_shows_for_the_demo_model(qtbot, window, fake_service, tmp_path):
    from viewer_fakes import make_card

    assert window.banner.isHidden()
    fake_service.card = make_card(sha="d" * 64, name="cxr-demo-densenet121")
    with qtbot.waitSignal(window.session.modelLoaded, timeout=5000):
        window.load_model(tmp_path / "demo")
    assert window.banner.isVisible() and "NOT FOR DIAGNOSTIC USE" in window.banner.text()


def test_gui_main_runs_and_cleans_up(qtbot, monkeypatch, tmp_path):
    from PySide6.QtWidgets import QApplication

    import viewer.gui as gui

    created = []
    real_create = gui.create_window

    def create_window(db, samples):
        created.append(real_create(load_model=False, db=db))
        return created[-1]

    monkeypatch.setattr(gui, "create_window", create_window)
    monkeypatch.setattr(QApplication, "exec", lambda self=None: 0)
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # main() installs its own; restore it after
    root = logging.getLogger()
    handlers = list(root.handlers)
    try:
        assert gui.main([str(tmp_path)], db=tmp_path / "studies.sqlite") == 0
    finally:
        for handler in [h for h in root.handlers if h not in handlers]:
            root.removeHandler(handler)
            handler.close()
    window = created[0]
    assert not window.session.model_thread._thread.is_alive()
    assert (tmp_path / "cxr-home" / "settings.json").is_file()
    assert (tmp_path / "cxr-home" / "logs").is_dir()
    assert (tmp_path / "studies.sqlite").is_file()


def test_model_menu_loads_a_package_and_imports_a_checkpoint(qtbot, window, monkeypatch, tmp_path):
    import types

    from PySide6.QtWidgets import QFileDialog, QInputDialog

    assert window.actions_.import_checkpoint is not None  # torch (the training stack) is installed here
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(tmp_path / "other"))
    with qtbot.waitSignal(window.session.modelLoaded, timeout=5000) as loaded:
        window.actions_.load_model.trigger()
    assert loaded.args[0].package == tmp_path / "other"

    calls = []
    fake = types.ModuleType("inference.fit.checkpoint_import")
    fake.import_checkpoint = lambda kind, path, dest: calls.append((kind, path, dest))
    monkeypatch.setitem(sys.modules, "inference.fit.checkpoint_import", fake)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(tmp_path / "model.pth.tar"), ""))
    monkeypatch.setattr(QInputDialog, "getItem", lambda *a, **k: (CHECKPOINT_FORMATS["chexnet"].title, True))
    with qtbot.waitSignal(window.session.modelLoaded, timeout=5000) as loaded:
        window.actions_.import_checkpoint.trigger()
    kind, path, dest = calls[0]
    assert kind == "chexnet" and path == tmp_path / "model.pth.tar"
    assert loaded.args[0].package == dest and str(dest).startswith(str(tmp_path / "cxr-home" / "models"))


def test_the_reading_station_offers_no_checkpoint_import(qtbot, backend, tmp_path, monkeypatch):
    """Importing a checkpoint needs torch: where it is not installed the Model menu has no such item."""
    from viewer.core.settings import Settings
    from viewer.qt import main_window
    from viewer.qt.session import TriageSession

    monkeypatch.setattr(main_window, "torch_installed", lambda: False)
    win = main_window.MainWindow(TriageSession(backend), Settings(path=tmp_path / "settings.json"))
    qtbot.addWidget(win)
    assert win.actions_.import_checkpoint is None
    (model_menu,) = [a.menu() for a in win.menuBar().actions() if a.text() == "&Model"]
    assert all("Checkpoint" not in action.text() for action in model_menu.actions())
    win.close()


def test_every_command_is_in_a_menu_with_its_shortcut(window):
    from viewer.qt.actions import shortcut_table

    in_menus = set()
    for menu_action in window.menuBar().actions():
        for action in menu_action.menu().actions():
            in_menus.add(action)
            if action.menu() is not None:
                in_menus.update(action.menu().actions())
    a = window.actions_
    for action in (a.next_study, a.previous_study, a.next_unreviewed, a.heatmap, a.invert, a.reset_view,
                   a.open_folder, a.export_image, a.export_worklist, a.deidentify, *a.findings):  # fmt: skip
        assert action in in_menus, action.text()
    keys = dict(shortcut_table(a))
    for key in ("Down", "Up", "Space", "H", "I", "R", "Ctrl+O", "Ctrl+E", "Ctrl+Shift+E"):
        assert key in keys, key


def test_exported_image_never_carries_the_patient(qtbot, window):
    open_and_score(qtbot, window, "2")
    wait_image(qtbot, window)
    patient = window.current_row().meta.patient_id
    for hide in (False, True):
        window.actions_.deidentify.setChecked(hide)
        path = export_image(qtbot, window)
        assert patient.encode() not in path.read_bytes() and patient not in path.name


def test_cancel_during_indexing_keeps_rows_and_scores_nothing(qtbot, window, backend):
    gate = threading.Event()
    real_scan = backend.scan

    def slow_scan(paths, cancelled):
        for e in real_scan(paths, cancelled):
            gate.wait(0.01)
            yield e

    backend.scan = slow_scan
    window.open_paths([Path("500")])
    qtbot.waitUntil(lambda: window.session.worklist_model.rowCount() > 0, timeout=5000)
    window.cancel_work()
    qtbot.waitUntil(lambda: not window.session.busy, timeout=5000)
    rows = window.session.worklist_model.worklist.rows
    assert 0 < len(rows) < 500 and all(r.state is RowState.QUEUED for r in rows)
    assert "Indexing cancelled" in window.statusBar().currentMessage()
    window.actions_.resume.trigger()  # Study > Score Queued Studies
    qtbot.waitUntil(lambda: all(r.state is RowState.SCORED for r in rows), timeout=10_000)
