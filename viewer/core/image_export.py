"""Annotated PNG export from the viewer: the headless renderer (:mod:`inference.render.annotate`), one file
per export under a name free of patient data. The image never carries patient identifiers."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from inference.api import Heatmap, ModelCard, RankedStudy, XRayImage
from inference.render.annotate import render, write_png


def export_annotated(
    image: XRayImage,
    heatmap: Heatmap | None,
    study: RankedStudy,
    card: ModelCard,
    thresholds: Mapping[str, float],
    folder: Path,
) -> Path:
    """Write ``cxr-<stamp>-<random>.png`` into ``folder`` (created); returns its path."""
    return write_png(render(image, heatmap, study, card, thresholds), unused_name(Path(folder)))


def unused_name(folder: Path) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    while True:
        path = folder / f"cxr-{stamp}-{uuid.uuid4().hex[:8]}.png"
        if not path.exists():
            return path
