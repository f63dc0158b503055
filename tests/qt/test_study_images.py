"""Issue #22, problem 12: every image of a study is viewable. A PA + lateral study shows both as
thumbnails under the image; the scored PA is shown first, clicking the lateral (or V) shows it in the
main pane (no heat map on it), V again brings the PA back; files are read off the GUI thread, once."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from two_studies import CURRENT, PRIOR, CountingReader, make_studies, open_real_window


@pytest.fixture
def reader() -> CountingReader:
    return CountingReader()


@pytest.fixture
def win(qtbot, tmp_path, reader):
    files = make_studies(tmp_path / "studies")
    window = open_real_window(qtbot, tmp_path, files["pa"].parent, reader)
    window.files = files
    yield window
    window.close()


def shown_view(win) -> str:
    image = win.image_view.image()
    return image.meta.view_position if image is not None else ""


def test_a_studys_lateral_is_a_thumbnail_shown_on_click_or_v(qtbot, win, reader):
    strip = win.study_images
    assert win.worklist.select_uid(CURRENT)
    qtbot.waitUntil(lambda: shown_view(win) == "PA", timeout=10000)  # the scored frontal, by default
    assert strip.isVisible() and strip.count() == 2
    qtbot.waitUntil(lambda: all(not strip.item(i).icon().isNull() for i in range(2)), timeout=10000)
    assert threading.get_ident() not in reader.threads  # read on the I/O pool

    qtbot.mouseClick(
        strip.viewport(), Qt.MouseButton.LeftButton, pos=strip.visualItemRect(strip.item(1)).center()
    )
    qtbot.waitUntil(lambda: shown_view(win) == "LL", timeout=10000)
    assert win.image_view.image().meta.path == win.files["lateral"]
    assert win.image_view.heatmap() is None and win.display.image_uid is None  # no heat map, no export
    assert "image 2 of 2 (LL)" in win.caption.text()
    assert win.worklist.current_uid() == CURRENT
    win.actions_.export_image.trigger()  # Ctrl+E says why the lateral is not exported, and how to go back
    assert "V shows it" in win.statusBar().currentMessage()
    win.findings.edit_thresholds({"Effusion": 0.3})  # a re-rank: the caption still names the image shown
    assert "image 2 of 2 (LL)" in win.caption.text() and shown_view(win) == "LL"
    win.actions_.deidentify.setChecked(True)  # hiding identifiers re-captions: the image shown stays named
    assert "image 2 of 2 (LL)" in win.caption.text() and "Patient" not in win.caption.text()
    win.actions_.deidentify.setChecked(False)

    assert win.actions_.next_image.shortcut() == QKeySequence(Qt.Key.Key_V)
    win.actions_.next_image.trigger()  # V: after the last image, the scored one again
    qtbot.waitUntil(lambda: shown_view(win) == "PA", timeout=10000)
    assert win.display.image_uid == CURRENT
    win.actions_.next_image.trigger()
    qtbot.waitUntil(lambda: shown_view(win) == "LL", timeout=10000)
    assert reader.reads[win.files["lateral"]] <= 2  # the thumbnail's read is kept: no read per click


def test_a_study_of_one_image_has_no_strip_and_v_does_nothing(qtbot, win):
    assert win.worklist.select_uid(PRIOR)
    qtbot.waitUntil(lambda: shown_view(win) == "PA", timeout=10000)
    assert win.study_images.isHidden()
    win.actions_.next_image.trigger()
    assert win.image_view.image().meta.study_uid == PRIOR
