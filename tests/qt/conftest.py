"""Viewer test fixtures: an isolated settings folder and fake inference back ends."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from viewer_fakes import FakeService, entry, fake_image, fake_network_input, fake_scorer


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    """Every viewer test writes settings and logs under its own tmp folder, never the user's."""
    home = tmp_path / "cxr-home"
    monkeypatch.setenv("CXR_TRIAGE_HOME", str(home))
    return home


@pytest.fixture(autouse=True)
def fake_files_read_as_fake_images(monkeypatch):
    """The engine takes a heat map's network input from the image's file; the fake studies' files
    (under /data, which does not exist) are read as their fake images. Real files are read as such."""
    from inference.runtime import engine, network_input

    def prepare_image(path, service):
        reader = network_input.prepare_image if Path(path).exists() else fake_network_input
        return reader(path, service)

    monkeypatch.setattr(engine, "prepare_image", prepare_image)


@pytest.fixture(autouse=True)
def no_model_threads_left():
    """Like napari's fixtures: a test that leaves a model-owner thread running fails."""
    yield
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        alive = [t for t in threading.enumerate() if t.name == "cxr-model-owner" and t.is_alive()]
        if not alive:
            return
        time.sleep(0.02)
    pytest.fail(f"{len(alive)} model-owner thread(s) still running after the test")


@pytest.fixture
def fake_service() -> FakeService:
    return FakeService()


@pytest.fixture
def backend(fake_service, tmp_path):
    from viewer.qt.engine_parts import EngineParts

    def scan(paths, cancelled):
        """Folder "N" holds N good studies; "mixed" adds an error, a lateral and an unreadable one."""
        from viewer_fakes import mixed_entries

        for p in paths:
            entries = mixed_entries() if p.name == "mixed" else [entry(i) for i in range(int(p.name))]
            for e in entries:
                if cancelled():
                    return
                yield e

    return EngineParts(
        scan=scan,
        read_image=fake_image,
        loader=lambda package, device: fake_service,
        scorer=fake_scorer(fake_image),
        batch_size=4,
    )


@pytest.fixture
def window(qtbot, backend, tmp_path):
    """A main window on the fake back end, model loaded, export folder set; threads joined after."""
    from viewer.core.settings import Settings
    from viewer.qt.main_window import MainWindow
    from viewer.qt.session import TriageSession

    settings = Settings(path=tmp_path / "settings.json", export_folder=str(tmp_path / "exports"))
    session = TriageSession(backend)
    win = MainWindow(session, settings)
    qtbot.addWidget(win)
    win.resize(1200, 700)
    win.show()
    qtbot.waitExposed(win)
    with qtbot.waitSignal(session.modelLoaded, timeout=5000):
        win.load_model(tmp_path / "fake-package")
    yield win
    win.close()
    assert not session.model_thread._thread.is_alive()
    assert session.io.pool.activeThreadCount() == 0


@pytest.fixture
def db(tmp_path) -> Path:
    """Where a test's study store lives (empty: the window creates it); a test may seed its own."""
    return tmp_path / "studies.sqlite"


@pytest.fixture
def open_window(qtbot, backend, tmp_path, db):
    """Opens main windows on the store file ``db`` (each test module gives its own ``db`` fixture) with
    the fake back end, model loaded and the store's worklist shown; every window is closed (threads
    joined) after the test."""
    from inference.store import Store
    from viewer.core.settings import Settings
    from viewer.qt.main_window import MainWindow
    from viewer.qt.session import TriageSession

    windows: list[MainWindow] = []

    def make() -> MainWindow:
        settings = Settings(path=tmp_path / "settings.json", export_folder=str(tmp_path / "exports"))
        session = TriageSession(backend, store=Store(db))
        win = MainWindow(session, settings)
        qtbot.addWidget(win)
        win.show()
        with qtbot.waitSignal(session.modelLoaded, timeout=5000):
            win.load_model(tmp_path / "fake-package")
        qtbot.waitUntil(lambda: not session.busy, timeout=5000)
        windows.append(win)
        return win

    yield make
    for win in windows:
        win.close()
        assert not win.session.model_thread._thread.is_alive()


@pytest.fixture
def view(qtbot):
    """An image view on its own, shown at 700 x 700."""
    from viewer.qt.image_view import ImageView

    v = ImageView()
    qtbot.addWidget(v)
    v.resize(700, 700)
    v.show()
    qtbot.waitExposed(v)
    return v
