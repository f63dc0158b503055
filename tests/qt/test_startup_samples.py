"""Issue #22, problem 4: the bundled samples only when asked. Starting without a folder (the desktop
entry) opens the store's worklist, at once, before the model has loaded, and adds nothing to it; an
empty store offers the samples (a welcome in the image pane), which open in memory, never in the store."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from viewer_fakes import FakeService, entry, fake_image, fake_scorer, make_card, probs_for

from inference.api import Status
from inference.bundled import DEMO_MODEL, SAMPLES
from inference.models.card import read_card
from inference.store import ImageResult, Store
from viewer import app
from viewer.qt.engine_parts import EngineParts

DEMO_SHA = read_card(DEMO_MODEL).weights_sha256  # the model the viewer starts with
STORED = [entry(i) for i in range(3)]


@pytest.fixture
def held_model():
    """A loader that holds the model back until the test lets it go."""
    release = threading.Event()
    service = FakeService(make_card(sha=DEMO_SHA, name="demo"))

    def load(_package, _device):
        release.wait(10)
        return service

    yield load, release
    release.set()


@pytest.fixture
def make_window(qtbot, tmp_path):
    """What the desktop entry opens: ``cxr-triage`` with no folder, on the store ``db``; closed after."""
    from viewer.gui import create_window

    windows = []

    def make(db: Path, loader):
        parts = EngineParts(
            read_image=fake_image, loader=loader, scorer=fake_scorer(fake_image), batch_size=4
        )
        win = create_window(settings_path=tmp_path / "settings.json", backend=parts, db=db)
        qtbot.addWidget(win)
        windows.append(win)
        win.show()
        return win

    yield make
    for win in windows:
        win.close()


def stored_paths(db: Path) -> set[Path]:
    with Store(db) as store:
        return {image.entry.meta.path for image in store.images()}


def test_the_desktop_entry_opens_no_folder(monkeypatch):
    """``cxr-triage`` alone (the desktop entry) starts the viewer on the store alone; ``gui --samples``
    (what ``make run`` starts) on the bundled samples, in memory."""
    import viewer.gui

    started: list[tuple] = []
    monkeypatch.setattr(viewer.gui, "main", lambda paths, **kw: started.append((paths, kw)) or 0)
    assert app.main([]) == 0 and app.main(["gui", "--samples"]) == 0
    (paths, options), (sample_paths, sample_options) = started
    assert paths == [] and not options.get("samples")
    assert sample_paths == [] and sample_options["samples"] is True


def test_a_stored_worklist_shows_before_the_model_loads_and_gets_no_samples(
    qtbot, tmp_path, held_model, make_window
):
    db = tmp_path / "studies.sqlite"
    with Store(db) as store:
        ids = store.record(STORED)
        results = [
            ImageResult(i, Status.SCORED, probs_for(e.meta.study_uid))
            for i, e in zip(ids, STORED, strict=True)
        ]
        store.save_results(results, DEMO_SHA)
    loader, release = held_model
    win = make_window(db, loader)
    model = win.session.worklist_model
    qtbot.waitUntil(lambda: len(model.worklist) == 3, timeout=5000)
    assert win.session.info is None  # the model is still loading
    assert {r.uid for r in model.worklist.rows} == {e.meta.study_uid for e in STORED}
    assert not win.welcome.isVisible()
    release.set()
    qtbot.waitUntil(lambda: win.session.info is not None and not win.session.busy, timeout=5000)
    assert len(model.worklist) == 3
    assert stored_paths(db) == {e.meta.path for e in STORED}  # no sample joined the store


def test_an_empty_store_offers_the_samples_which_open_in_memory(qtbot, tmp_path, held_model, make_window):
    db = tmp_path / "studies.sqlite"
    Store(db).close()
    loader, release = held_model
    release.set()
    win = make_window(db, loader)
    qtbot.waitUntil(lambda: win.welcome.isVisible(), timeout=5000)
    assert "Open Sample Studies" in win.welcome.samples_button.text()
    win.welcome.samples_button.click()
    samples = win.sample_window
    assert samples is not None and samples.session.store is None  # in memory
    qtbot.waitUntil(lambda: len(samples.session.worklist_model.worklist) > 5, timeout=10_000)
    paths = {e.meta.path.parent for r in samples.session.worklist_model.worklist.rows for e in r.entries}
    assert paths == {SAMPLES}
    assert stored_paths(db) == set()  # the real store got none of them
    assert win.welcome.isVisible() and not samples.welcome.isVisible()
    win.close()
    assert not samples.isVisible()  # closed with the window that opened it


def test_files_opened_while_the_store_is_read_stay_listed(
    qtbot, tmp_path, held_model, make_window, monkeypatch
):
    """``cxr-triage gui FOLDER``: the folder is indexed while the store's worklist is still being read;
    the worklist read back, older than those files, must not drop them."""
    from viewer.qt import store_access

    db = tmp_path / "studies.sqlite"
    with Store(db) as store:
        store.record(STORED)
    read_store, reading = store_access._stored_rows, threading.Event()

    def slow_read(store, sha):
        rows = read_store(store, sha)
        reading.wait(10)  # the folder is indexed meanwhile
        return rows

    monkeypatch.setattr(store_access, "_stored_rows", slow_read)
    folder = tmp_path / "opened"
    folder.mkdir()
    for name in ("00000001_000.png", "00003956_001.png"):
        (folder / name).write_bytes((SAMPLES / name).read_bytes())
    loader, release = held_model
    win = make_window(db, loader)
    win.open_paths([folder])
    model = win.session.worklist_model
    qtbot.waitUntil(lambda: len(model.worklist) == 2 and not win.session._indexer.running, timeout=5000)
    reading.set()
    release.set()
    qtbot.waitUntil(lambda: win.session.info is not None and not win.session.busy, timeout=5000)
    assert len(model.worklist) == 5
