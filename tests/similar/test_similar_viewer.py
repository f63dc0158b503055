"""The Similar studies panel of the real window finds studies scored in that same window: the bundled
demo model scores a folder of three sample radiographs, and the panel of each lists the other two.

The regression: a study shown before it was scored was answered "has no scored frontal image with
these weights", and the panel kept that answer after the window had scored it (its embedding in the
store, where ``cxr-triage similar`` found its neighbours)."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest

from inference.bundled import DEMO_MODEL, SAMPLES
from inference.runtime.engine import default_scorer
from inference.store import Store
from viewer.qt.similar_panel import UID_ROLE

pytestmark = pytest.mark.slow

# Three frontal radiographs of three studies (PNG: study UIDs from their content) that the demo
# model's safety gate lets through.
FILES = ("00000001_000.png", "00003956_001.png", "00027426_000.png")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    out = tmp_path / "three"
    out.mkdir()
    for name in FILES:
        shutil.copy(SAMPLES / name, out / name)
    return out


def listed(win) -> set[str]:
    panel = win.similar
    return {panel.list.item(i).data(UID_ROLE) for i in range(panel.list.count())}


def test_the_panel_finds_studies_scored_in_the_same_window(qtbot, tmp_path, folder):
    if not (DEMO_MODEL / "model.safetensors").is_file():
        pytest.skip("the bundled demo model is not installed")
    from viewer.core.settings import Settings
    from viewer.qt.engine_parts import EngineParts
    from viewer.qt.main_window import MainWindow
    from viewer.qt.session import TriageSession

    release = threading.Event()

    def scorer(entries, service, **kwargs):
        """The product's scoring path, started once the reader has opened a study (see below)."""
        release.wait(120)
        return default_scorer(entries, service, **kwargs)

    settings = Settings(path=tmp_path / "settings.json", export_folder=str(tmp_path / "exports"))
    session = TriageSession(
        EngineParts(batch_size=4, scorer=scorer), store=Store(tmp_path / "studies.sqlite")
    )
    win = MainWindow(session, settings, demo_package=DEMO_MODEL)
    qtbot.addWidget(win)
    win.show()
    try:
        with qtbot.waitSignal(session.modelLoaded, timeout=180_000):
            win.load_model(DEMO_MODEL)
        win.open_paths([folder])
        qtbot.waitUntil(lambda: win.worklist.proxy.rowCount() == 3, timeout=60_000)
        studies = {win.worklist.proxy.uid_at(r) for r in range(3)}

        # The reader opens a study before the model has scored it: nothing to compare yet.
        chosen = win.worklist.proxy.uid_at(1)
        assert win.worklist.select_uid(chosen)
        qtbot.waitUntil(lambda: "once this study is scored" in win.similar.status.text(), timeout=60_000)

        release.set()
        rows = session.worklist_model.worklist.rows
        qtbot.waitUntil(lambda: not session.busy and all(r.result is not None for r in rows), timeout=300_000)
        assert all(r.result.status.value == "scored" for r in rows)
        with Store(tmp_path / "studies.sqlite") as store:  # what `cxr-triage similar` reads
            assert set(store.embeddings_since(session.info.card.weights_sha256)[1]) == studies

        # The study still shown lists the two others, without being opened again.
        assert win.worklist.current_uid() == chosen
        qtbot.waitUntil(lambda: listed(win) == studies - {chosen}, timeout=60_000)
        assert "similarity" in win.similar.list.item(0).text()

        # And so does every other study the reader opens.
        for uid in sorted(studies - {chosen}):
            assert win.worklist.select_uid(uid)
            qtbot.waitUntil(lambda uid=uid: listed(win) == studies - {uid}, timeout=60_000)
    finally:
        release.set()
        win.close()
