"""The inference functions a viewer session calls (scanning, reading, loading, scoring): the product's
by default; tests swap in fakes."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inference.api import ScanEntry, XRayImage
from viewer.qt.model_thread import Loader, Scorer


def _default_scan(paths: Sequence[Path], cancelled: Callable[[], bool]) -> Iterator[ScanEntry]:
    from inference.io import scan

    return scan(paths, cancelled=cancelled)


def _default_read(path: Path) -> XRayImage:
    from inference.io import read_image

    return read_image(path)


@dataclass
class EngineParts:
    """The inference functions the session calls; tests swap in fakes."""

    scan: Callable[[Sequence[Path], Callable[[], bool]], Iterable[ScanEntry]] = _default_scan
    read_image: Callable[[Path], XRayImage] = _default_read
    loader: Loader | None = None
    scorer: Scorer | None = None
    batch_size: int = 8
    extra: dict[str, Any] = field(default_factory=dict)
