"""Viewer windows on a team store for the tests in this folder: the viewer tests' fakes (no torch, no
files decoded; ``tests/qt/viewer_fakes.py``), a window per reader, each on its own connection."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "qt"))

from viewer_fakes import FakeService, entry, fake_image, fake_scorer  # noqa: E402

from inference.store import Store  # noqa: E402

WindowFactory = Callable[..., "object"]


def fake_backend():
    from viewer.qt.engine_parts import EngineParts

    service = FakeService()

    def scan(paths, cancelled):
        for p in paths:
            yield from (entry(i) for i in range(int(p.name)))

    return EngineParts(
        scan=scan, read_image=fake_image, loader=lambda package, device: service,
        scorer=fake_scorer(fake_image), batch_size=4,
    )  # fmt: skip


@pytest.fixture
def team_windows(qtbot, tmp_path: Path, monkeypatch) -> Iterator[WindowFactory]:
    """``make(url, store=None)``: a main window on the team store ``url`` (or on ``store``, a wrapper),
    fake model loaded and the store's worklist shown; every window is closed after the test."""
    from viewer.core.settings import Settings
    from viewer.qt.main_window import MainWindow
    from viewer.qt.session import TriageSession

    monkeypatch.setenv("CXR_TRIAGE_HOME", str(tmp_path / "cxr-home"))
    windows: list[MainWindow] = []

    def make(url: str, store: Store | None = None, name: str = "w") -> MainWindow:
        settings = Settings(path=tmp_path / f"settings-{name}.json")
        session = TriageSession(fake_backend(), store=store if store is not None else Store(url))
        win = MainWindow(session, settings)
        qtbot.addWidget(win)
        win.show()
        with qtbot.waitSignal(session.modelLoaded, timeout=10_000):
            win.load_model(tmp_path / "fake-package")
        qtbot.waitUntil(lambda: not session.busy, timeout=10_000)
        windows.append(win)
        return win

    yield make
    for win in windows:
        win.close()
