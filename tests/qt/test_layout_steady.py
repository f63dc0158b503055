"""Issue #22, problem 2: the layout stays put. Selecting a study the safety gate stopped, or a corrupt
file, never moves the panes (long captions elide, long messages wrap inside the image pane), and no
pane can be dragged to nothing.

At 1280×800 and at 150% scaling. Qt lays widgets out in logical pixels: QT_SCALE_FACTOR=1.5 on a
1280×800 screen leaves 853×533 of them, which is what the 150% case gives the window here (the
offscreen platform has no physical screen to scale).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication, QLabel, QSplitter
from viewer_fakes import entry, make_card, probs_for

from inference.api import ScanEntry, Status
from inference.store import ImageResult, Store
from viewer.qt.main_window import MainWindow

SHA = make_card().weights_sha256
LONG = "a very long folder name that a department's archive really uses " * 3
ORDINARY = entry(0, accession="ACC-short")


def in_long_folder(e: ScanEntry, name: str) -> ScanEntry:
    return dataclasses.replace(e, meta=dataclasses.replace(e.meta, path=Path(f"/data/{LONG}/{name}")))


STOPPED = in_long_folder(entry(1), "gated.dcm")
BROKEN = in_long_folder(
    entry(
        2,
        Status.ERROR,
        "corrupt DICOM header: the preamble is followed by 1.2.840.10008.5.1.4.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1"
        ".1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1 and nothing the reader can use " * 2,
    ),
    "broken.dcm",
)
STOPPED_WHY = "outside the images the model was trained on (gate score 1.16, limit 1) " * 3
SIZES = {"1280x800 at 100%": (1280, 800), "1280x800 at 150%": (853, 533)}


@pytest.fixture
def db(tmp_path) -> Path:
    path = tmp_path / "studies.sqlite"
    with Store(path) as store:
        ordinary, stopped = store.record([ORDINARY, STOPPED])
        store.record([BROKEN])
        store.save_results(
            [
                ImageResult(ordinary, Status.SCORED, probs_for(ORDINARY.meta.study_uid), gate_score=0.4),
                ImageResult(stopped, Status.NOT_SCORED, probs_for(STOPPED.meta.study_uid), STOPPED_WHY,
                            gate_score=1.16),
            ],
            SHA,
        )  # fmt: skip
    return path


def pane_sizes(win: MainWindow) -> list[list[int]]:
    QApplication.processEvents()
    right = win.splitter.widget(2)
    assert isinstance(right, QSplitter)
    return [win.splitter.sizes(), right.sizes()]


def show_study(qtbot, win: MainWindow, uid: str, message: str) -> None:
    assert win.worklist.select_uid(uid)
    qtbot.waitUntil(lambda: message in win.image_view.message() or win.image_view.image() is not None)


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_selecting_a_stopped_or_broken_study_moves_no_pane(qtbot, open_window, size):
    win = open_window()
    qtbot.waitUntil(lambda: len(win.session.worklist_model.worklist) == 3, timeout=5000)
    win.resize(*size)
    show_study(qtbot, win, ORDINARY.meta.study_uid, "")
    qtbot.waitUntil(lambda: win.image_view.image() is not None)
    before = pane_sizes(win)
    assert min(before[0]) > 0

    show_study(qtbot, win, STOPPED.meta.study_uid, "")
    assert pane_sizes(win) == before
    assert "gate score 1.16" in win.caption.text() and "gated.dcm" in win.caption.toolTip()
    show_study(qtbot, win, BROKEN.meta.study_uid, "corrupt DICOM header")
    assert pane_sizes(win) == before
    assert win.size().toTuple() == size  # nor does the window grow to fit a caption
    [message] = [w for w in win.image_view.findChildren(QLabel) if "corrupt" in w.text()]
    assert message.minimumSizeHint().width() <= win.image_view.width()  # it wraps, UID and all
    show_study(qtbot, win, ORDINARY.meta.study_uid, "")
    assert pane_sizes(win) == before


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_no_pane_can_be_dragged_below_its_minimum(qtbot, open_window, size):
    win = open_window()
    win.resize(*size)
    qtbot.waitUntil(lambda: len(win.session.worklist_model.worklist) == 3, timeout=5000)
    show_study(qtbot, win, BROKEN.meta.study_uid, "corrupt DICOM header")
    for splitter in (win.splitter, win.splitter.widget(2)):
        assert isinstance(splitter, QSplitter)
        last = splitter.count() - 1
        for handle in range(1, splitter.count()):
            for edge in (0, 100_000):  # each divider dragged as far as it goes, both ways
                splitter.moveSplitter(edge, handle)
                QApplication.processEvents()
                for i, width in enumerate(splitter.sizes()):
                    pane = splitter.widget(i)
                    least = pane.minimumSizeHint() if pane.minimumWidth() == 0 else pane.minimumSize()
                    minimum = least.width() if splitter is win.splitter else least.height()
                    assert width >= max(minimum, 1), (handle, edge, i, splitter.sizes())
        assert splitter.sizes()[last] > 0


def test_the_demo_banner_is_there_before_the_demo_model_loads(qtbot, backend, tmp_path, fake_service):
    """The banner shows while the bundled demo model loads, so the panes do not move when it has."""
    from viewer.core.settings import Settings
    from viewer.qt.session import TriageSession

    demo = tmp_path / "demo-package"
    fake_service.card = make_card(name="demo")
    win = MainWindow(TriageSession(backend), Settings(path=tmp_path / "settings.json"), demo_package=demo)
    qtbot.addWidget(win)
    win.resize(1280, 800)
    win.show()
    qtbot.waitExposed(win)
    with qtbot.waitSignal(win.session.modelLoaded, timeout=5000):
        win.load_model(demo)
        assert win.banner.isVisible()
        top = win.splitter.mapTo(win, win.splitter.rect().topLeft()).y()
    QApplication.processEvents()
    assert win.banner.isVisible()
    assert win.splitter.mapTo(win, win.splitter.rect().topLeft()).y() == top
    win.close()
