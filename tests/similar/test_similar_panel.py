"""The viewer's "Similar studies" panel, offscreen: neighbours with thumbnails, captions and review,
searched off the GUI thread; clicking one asks to open it; stale answers are dropped."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from similar_helpers import SHA, add_study, unit

from inference.api import ImageMeta, ScanEntry, XRayImage
from inference.store import Store
from viewer.qt.similar_panel import UID_ROLE, SimilarPanel


class Reader:
    """Gradient images; files named ``*missing*`` fail. Records the threads it ran on."""

    def __init__(self) -> None:
        self.threads: set[int] = set()

    def __call__(self, path: Path) -> XRayImage:
        self.threads.add(threading.get_ident())
        if "missing" in path.name:
            raise OSError("gone")
        pixels = np.tile(np.linspace(0, 1, 200, dtype=np.float32), (100, 1))
        return XRayImage(pixels, ImageMeta(path, "x"))


@pytest.fixture
def store(tmp_path: Path):
    with Store(tmp_path / "studies.sqlite") as s:
        add_study(s, "q", [unit(1, 0)], patient_id="P1")
        add_study(s, "close", [unit(1, 0.3)], patient_id="P2", probabilities={"Pneumonia": 0.9})
        add_study(s, "missing", [unit(0, 1)], patient_id="P3", probabilities={"Pneumonia": 0.1})
        s.set_review("close", "rejected")
        yield s


@pytest.fixture
def panel(qtbot, store: Store):
    reader = Reader()
    widget = SimilarPanel(reader, lambda: {"Pneumonia": 0.5})
    widget.reader = reader
    qtbot.addWidget(widget)
    widget.set_source(store, SHA)
    yield widget
    widget.shutdown()


def test_neighbours_show_with_thumbnails_similarity_and_review(qtbot, panel: SimilarPanel):
    panel.show_study("q")
    qtbot.waitUntil(lambda: panel.list.count() == 2)
    first, second = panel.list.item(0), panel.list.item(1)
    assert (
        "similarity 0.96" in first.text() and "rejected" in first.text() and "Pneumonia 0.90" in first.text()
    )
    assert "not reviewed" in second.text()
    assert not first.icon().isNull() and second.icon().isNull()  # an unreadable file: no thumbnail
    assert threading.get_ident() not in panel.reader.threads  # read off the GUI thread
    with qtbot.waitSignal(panel.studyActivated) as chosen:
        panel.list.itemClicked.emit(first)
    assert chosen.args == ["close"]


def test_an_unscored_study_says_why(qtbot, panel: SimilarPanel, store: Store):
    panel.show_study("nope")
    qtbot.waitUntil(lambda: "not in the study store" in panel.status.text())
    assert "nope" not in panel.status.text() and panel.list.count() == 0


def test_only_the_last_shown_study_is_answered(qtbot, panel: SimilarPanel):
    panel.show_study("q")
    panel.show_study("missing")
    qtbot.waitUntil(lambda: panel.list.count() == 2)
    panel.shutdown()  # every answer is in: the first one must not have been shown
    qtbot.wait(50)
    assert [panel.list.item(i).data(UID_ROLE) for i in range(panel.list.count())] == ["close", "q"]


def test_a_study_scored_after_it_was_shown_is_searched_again(qtbot, panel: SimilarPanel, store: Store):
    late = ImageMeta(Path("/data/late-0.png"), "late", sop_uid="late.0", view_position="PA")
    store.record([ScanEntry(late)])
    panel.show_study("late")  # recorded, not scored yet
    qtbot.waitUntil(lambda: "once this study is scored" in panel.status.text())
    add_study(store, "late", [unit(1, 0.1)], patient_id="P4")  # the window's scoring commits it
    panel.refresh_if_scored("late")
    qtbot.waitUntil(lambda: panel.list.count() == 3)
    assert panel.status.text() == ""
    assert {panel.list.item(i).data(UID_ROLE) for i in range(3)} == {"q", "close", "missing"}


class FailingStore:
    """A store that cannot be reached: every read fails (as a stopped team server's does)."""

    def __getattr__(self, name: str):
        def fail(*args, **kwargs):
            raise OSError("the store cannot be reached")

        return fail


def test_an_answer_landing_after_the_panel_is_gone_is_dropped(qtbot):
    """A search that fails after its window closed: its answer, queued to the GUI thread, used to reach
    a deleted list (RuntimeError in the event loop, failing whatever ran next)."""
    import shiboken6

    widget = SimilarPanel(Reader(), lambda: {"Pneumonia": 0.5})
    widget.set_source(FailingStore(), SHA)  # searches "q" at once, on the pool
    widget.show_study("q")
    widget.shutdown()  # the window closes: the search has ended, its answer is queued
    shiboken6.delete(widget)
    qtbot.wait(50)  # the queued answer is delivered now, or never
