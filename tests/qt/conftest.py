"""Viewer test fixtures: an isolated settings folder and fake inference back ends."""

from __future__ import annotations

import pytest
from viewer_fakes import FakeService, fake_image, fake_scorer


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    """Every viewer test writes settings and logs under its own tmp folder, never the user's."""
    home = tmp_path / "cxr-home"
    monkeypatch.setenv("CXR_TRIAGE_HOME", str(home))
    return home


@pytest.fixture
def fake_service() -> FakeService:
    return FakeService()


@pytest.fixture
def backend(fake_service, tmp_path):
    from viewer.qt.session import Backend

    def scan(paths, cancelled):
        from viewer_fakes import entry

        for p in paths:
            for i in range(int(p.name)):
                if cancelled():
                    return
                yield entry(i)

    return Backend(
        scan=scan,
        read_image=fake_image,
        loader=lambda package, device: fake_service,
        scorer=fake_scorer(fake_image),
        batch_size=4,
    )
