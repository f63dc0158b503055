"""The study being read stays shown when the worklist is read again, re-ranked or re-opened, whether
the reader picked it or the window opened it (issue #22, problem 5)."""

from __future__ import annotations

from pathlib import Path

from test_study_navigation import scored, shown
from viewer_fakes import LABELS, entry, result

from viewer.qt.worklist_model import WorklistModel
from viewer.qt.worklist_panel import WorklistPanel


def test_a_reset_with_new_ranks_keeps_the_study_the_window_opened(qtbot):
    model = WorklistModel()
    model.set_thresholds(dict.fromkeys(LABELS, 0.5))
    panel = WorklistPanel(model)
    qtbot.addWidget(panel)
    entries = [entry(i) for i in range(6)]
    results = [result(e) for e in entries]
    model.load(results, [], {})
    first = panel.current_uid()
    assert first is not None and not panel.held  # opened by the pane, not the reader
    for label in LABELS:  # ranks move until another study is on top
        model.set_thresholds({k: 0.01 if k == label else 0.99 for k in LABELS})
        if panel.proxy.uid_at(0) != first:
            break
    assert panel.proxy.uid_at(0) != first and panel.current_uid() == first
    seen: list[object] = []
    panel.currentStudyChanged.connect(seen.append)
    model.load(list(reversed(results)), [], {})  # the store read again
    assert panel.current_uid() == first and seen == []
    assert panel.table.selectionModel().currentIndex().row() == panel.proxy.row_of(first)


def test_a_reload_keeps_the_shown_study_and_its_image(qtbot, open_window):
    win = open_window()
    win.open_paths([Path("6")])
    qtbot.waitUntil(lambda: scored(win), timeout=10_000)
    proxy = win.worklist.proxy
    top = proxy.uid_at(0)
    qtbot.waitUntil(lambda: shown(win) == top, timeout=10_000)
    for label in LABELS:  # re-ranked until another study is on top
        win.session.set_thresholds({k: 0.01 if k == label else 0.99 for k in LABELS})
        if proxy.uid_at(0) != top:
            break
    assert proxy.uid_at(0) != top and shown(win) == top
    image = win.image_view.image()

    win.session.reload()
    qtbot.waitUntil(lambda: not win.session.busy, timeout=10_000)
    assert win.worklist.current_uid() == top and shown(win) == top
    assert win.image_view.image() is image
    assert win.worklist.table.selectionModel().currentIndex().row() == proxy.row_of(top)


def test_reopening_the_folder_brings_back_the_study_being_read(qtbot, window):
    window.open_paths([Path("6")])
    qtbot.waitUntil(lambda: scored(window), timeout=10_000)
    chosen = "1.2.1"
    assert window.worklist.select_uid(chosen)
    qtbot.waitUntil(lambda: shown(window) == chosen, timeout=10_000)

    window.open_paths([Path("6")])  # the same folder opened again: every row replaced
    qtbot.waitUntil(lambda: scored(window), timeout=10_000)
    qtbot.waitUntil(lambda: shown(window) == chosen, timeout=10_000)
    assert window.worklist.current_uid() == chosen


def test_arrivals_that_outrank_the_shown_study_do_not_replace_it(qtbot, open_window):
    win = open_window()
    win.open_paths([Path("3")])
    qtbot.waitUntil(lambda: scored(win), timeout=10_000)
    proxy = win.worklist.proxy
    top = proxy.uid_at(0)
    qtbot.waitUntil(lambda: shown(win) == top, timeout=10_000)
    assert not win.worklist.held  # the window opened it; the reader is reading it
    image = win.image_view.image()

    model = win.session.worklist_model
    model.add_entries([entry(i) for i in range(3, 40)])  # as the store's live arrivals join
    with qtbot.waitSignal(win.session.scoringDone, timeout=20_000):  # the window then opens rank 1 or not
        win.session.score_queued()
    assert scored(win) and proxy.uid_at(0) != top  # a more urgent study arrived
    assert win.worklist.current_uid() == top and shown(win) == top
    assert win.image_view.image() is image
