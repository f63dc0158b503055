"""Fixtures of the Ray tests: a small real image set, and Ray kept on loopback and offline."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from inference.bundled import SAMPLES

# Small, fast-to-decode bundled images; two of them in sub-folders so that the scan is split.
IMAGES = {
    "00003956_001.png": "00003956_001.png",
    "IM-0115-0001.jpeg": "a/IM-0115-0001.jpeg",
    "person1000_bacteria_2931.jpeg": "a/deep/person1000_bacteria_2931.jpeg",
    "16747_3_1.jpg": "b/16747_3_1.jpg",
    "CR_chest_SIIM_jpegbaseline_8bit.dcm": "b/CR_chest_SIIM_jpegbaseline_8bit.dcm",
    "00011514_015.png": "00011514_015.png",
}
TRUNCATED = "b/truncated.png"  # a header that scans, pixels that a worker cannot decode


@pytest.fixture(autouse=True, scope="session")
def ray_on_loopback() -> Iterator[None]:
    """Ray's processes (read when ray is imported, so before any test imports it) use 127.0.0.1,
    report no usage, and the test cluster's nodes and drivers need no token (loopback only)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        patch.setenv("RAY_AUTH_MODE", "disabled")
        patch.setenv("RAY_USAGE_STATS_ENABLED", "0")
        yield


@pytest.fixture
def images(tmp_path: Path) -> Path:
    root = tmp_path / "images"
    for name, place in IMAGES.items():
        (root / place).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SAMPLES / name, root / place)
    (root / TRUNCATED).write_bytes((SAMPLES / "00003956_001.png").read_bytes()[:300])
    (root / "b" / "notes.txt").write_text("not an image")
    return root
