"""Issue #22, problem 12: the patient's prior study beside the current one. With the prior in the
worklist (same Patient ID, earlier study date) the status bar says so, P hangs it in the compare pane
beside the study being read (which stays), Esc takes it away; a study without a prior is told so."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from two_studies import CURRENT, PRIOR, CountingReader, make_studies, open_real_window, write


@pytest.fixture
def reader() -> CountingReader:
    return CountingReader()


@pytest.fixture
def win(qtbot, tmp_path, reader):
    folder = make_studies(tmp_path / "studies")["pa"].parent
    window = open_real_window(qtbot, tmp_path, folder, reader)
    yield window
    window.close()


def compared(win) -> str:
    image = win.compare_pane.image_view.image()
    return image.meta.study_uid if image is not None and win.compare_pane.isVisible() else ""


def test_p_hangs_the_prior_beside_the_current_study_and_esc_takes_it_away(qtbot, win, reader):
    assert win.worklist.select_uid(CURRENT)
    qtbot.waitUntil(lambda: win.image_view.image() is not None, timeout=10000)
    hint = win.compare.prior_hint
    qtbot.waitUntil(lambda: hint.isVisible() and "Prior 2023-01-05" in hint.text(), timeout=5000)
    assert "P to compare" in hint.text()

    assert win.actions_.compare_prior.shortcut() == QKeySequence(Qt.Key.Key_P)
    panes = win.splitter.sizes()
    win.actions_.compare_prior.trigger()
    qtbot.waitUntil(lambda: compared(win) == PRIOR, timeout=10000)
    assert "Prior · Patient PAT1 · 2023-01-05" in win.compare_pane.caption.text()
    assert win.worklist.current_uid() == CURRENT and win.image_view.image().meta.study_uid == CURRENT
    # half of the reading area, not a sliver (once the layout has run)
    qtbot.waitUntil(lambda: win.compare_pane.width() > 0.6 * win.image_view.width(), timeout=5000)
    assert threading.get_ident() not in reader.threads

    win.set_deidentify(True)
    assert "PAT1" not in win.compare_pane.caption.text()
    assert "2023-01-05" in win.compare_pane.caption.text()

    win.actions_.cancel.trigger()  # Esc
    assert win.compare_pane.isHidden() and win.worklist.current_uid() == CURRENT
    # the worklist's width lent to the comparison comes back
    qtbot.waitUntil(lambda: win.splitter.sizes() == panes, timeout=5000)


def test_a_study_without_a_prior_says_so_and_a_prior_comparison_follows_the_reader(qtbot, win, tmp_path):
    assert win.worklist.select_uid(CURRENT)
    win.actions_.compare_prior.trigger()
    qtbot.waitUntil(lambda: compared(win) == PRIOR, timeout=10000)

    assert win.worklist.select_uid(PRIOR)  # the prior itself has no earlier study: the pane closes
    assert win.compare_pane.isHidden() and not win.compare.prior_hint.isVisible()
    win.actions_.compare_prior.trigger()
    assert win.compare_pane.isHidden()
    assert "No earlier study" in win.statusBar().currentMessage()


def test_another_patients_earlier_study_is_no_prior(qtbot, tmp_path, reader):
    folder = tmp_path / "two patients"
    folder.mkdir()
    write(folder, "a.dcm", CURRENT, "20240301", "PA", patient="PAT1")
    write(folder, "b.dcm", PRIOR, "20230105", "PA", patient="PAT2")
    window = open_real_window(qtbot, tmp_path, folder, reader)
    try:
        assert window.worklist.select_uid(CURRENT)
        assert not window.compare.prior_hint.isVisible()
        window.actions_.compare_prior.trigger()
        assert window.compare_pane.isHidden()
    finally:
        window.close()


def test_the_prior_is_found_in_the_store_when_it_was_archived(qtbot, open_window, db):
    """The patient's prior was read and archived (not in the worklist): the store still has it."""
    from inference.api import ImageMeta, ScanEntry
    from inference.store import Store

    def meta(uid: str, date: str) -> ImageMeta:
        return ImageMeta(
            Path(f"/data/{uid}.dcm"), uid, patient_id="PAT9", study_date=date, sop_uid=f"{uid}.1"
        )

    with Store(db) as store:
        store.record([ScanEntry(meta("9.1", "20240301")), ScanEntry(meta("9.2", "20230105"))])
        store.archive(["9.2"])
    win = open_window()
    assert {r.uid for r in win.session.worklist_model.worklist.rows} == {"9.1"}
    assert win.worklist.select_uid("9.1")
    qtbot.waitUntil(lambda: "Prior 2023-01-05" in win.compare.prior_hint.text(), timeout=5000)
    win.actions_.compare_prior.trigger()
    image = lambda: win.compare_pane.image_view.image()  # noqa: E731
    qtbot.waitUntil(lambda: image() is not None, timeout=5000)
    assert image().meta.path == Path("/data/9.2.dcm") and win.worklist.current_uid() == "9.1"


def test_f1_lists_the_comparison_keys_and_clicks(win):
    from viewer.qt.actions import shortcut_table

    rows = shortcut_table(win.actions_)
    keys = dict(rows)
    assert keys["P"] == "Compare with Prior" and keys["V"] == "Next Image of the Study"
    assert any(k.startswith("Esc") and "comparison" in text for k, text in rows)
    assert len(keys) == len(rows)  # no key listed twice
    view = next(m.menu() for m in win.menuBar().actions() if m.text() == "&View")
    mnemonics = [a.text().split("&")[1][0].lower() for a in view.actions() if "&" in a.text()]
    assert len(mnemonics) == len(set(mnemonics)), mnemonics  # Alt+letter reaches each one
    assert any("similar study" in k for k, _ in rows) and any("thumbnail" in k for k, _ in rows)


def test_the_compare_pane_offers_the_readers_window_presets_and_keeps_one_saved_there(win):
    main, other = win.image_view, win.compare_pane.image_view
    assert main.save_preset("Chest wide")
    assert "Chest wide" in other.user_presets()
    assert other.save_preset("Mediastinum")
    assert "Mediastinum" in main.user_presets() and "Mediastinum" in win.settings.window_presets
