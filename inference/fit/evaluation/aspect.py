"""An aspect-restored copy of a class-folder dataset whose source squashed radiographs to a square.

The Kermany pediatric images were resized to 224x224 from radiographs 1.3-1.5 times wider than high;
real files keep their aspect ratio. This writes each image of one split stretched back to a width
drawn from that range (seeded by the file name, so the copy is the same on every run), as PNG (no
second lossy compression), in the same class folders, so that ``cxr-triage evaluate`` can score it
through the product's own path (by hand: ``scripts/restore_aspect.py``).
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from inference.fit.train.datasets import read_dataset

WIDTH_RANGE = (1.3, 1.5)  # width / height of the original pediatric radiographs


def stretch_factor(name: str, seed: int = 0, width_range: tuple[float, float] = WIDTH_RANGE) -> float:
    """The width/height ratio one file is restored to: fixed by its name and the seed."""
    rng = np.random.default_rng([seed, zlib.crc32(name.encode("utf-8"))])
    return float(rng.uniform(*width_range))


def restore(src: Path, dst: Path, factor: float) -> None:
    """``src`` stretched horizontally so that width = ``factor`` x height, written as PNG to ``dst``."""
    with Image.open(src) as img:
        gray = img.convert("L")
        width = round(gray.height * factor)
        gray.resize((width, gray.height), Image.Resampling.BICUBIC).save(dst)


def restore_split(
    dataset: Path, out: Path, split_file: Path | None = None, split: str = "test", seed: int = 0
) -> int:
    """Write the aspect-restored copy of ``dataset`` (the ``split`` images only, if a split file is
    given) under ``out``/<class folder>/<stem>.png. Returns the number of images written."""
    wanted = None
    if split_file is not None:
        wanted = {Path(p).name for p in json.loads(split_file.read_text(encoding="utf-8"))[split]}
    written = 0
    for sample in read_dataset(str(dataset)):
        if wanted is not None and sample.path.name not in wanted:
            continue
        target = (out / sample.path.relative_to(dataset)).with_suffix(".png")
        target.parent.mkdir(parents=True, exist_ok=True)
        restore(sample.path, target, stretch_factor(sample.path.name, seed))
        written += 1
    return written
