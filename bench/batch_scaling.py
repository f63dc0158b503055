"""Images per second of ``cxr-triage batch`` on a local Ray with 1, 2 and 4 workers, against
``cxr-triage triage`` on the same images in the same run (both fp32).

The bundled raster samples are replicated with distinct content (crops) into a temporary folder so
that no result is reused; every run gets a fresh store. Printed per run: end to end (process work
from scan to worklist, Ray start and model loading included) and, for ``batch``, the steady rate
between the first and the last committed batch, which is what a long archive run sees.

    .venv/bin/python bench/batch_scaling.py [--images N] [--workers 1 2 4]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tempfile
import time
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from inference.bundled import SAMPLES  # noqa: E402
from inference.cli.commands import batch  # noqa: E402
from inference.cli.main import main, parse  # noqa: E402

SOURCES = ("00003956_001.png", "00011514_015.png", "16747_3_1.jpg", "IM-0115-0001.jpeg")


def replicate(folder: Path, count: int) -> None:
    """``count`` distinct images: crops of the samples, each 90% of the original, shifted."""
    images = [cv2.imread(str(SAMPLES / name), cv2.IMREAD_GRAYSCALE) for name in SOURCES]
    for i in range(count):
        pixels = images[i % len(images)]
        h, w = pixels.shape
        step = i // len(images) + 1
        top, left = step % max(h // 10, 1), (3 * step) % max(w // 10, 1)
        crop = pixels[top : top + h * 9 // 10, left : left + w * 9 // 10]
        cv2.imwrite(str(folder / f"image_{i:04d}.png"), crop)


def timed_triage(images: Path, work: Path) -> float:
    started = time.monotonic()
    with contextlib.redirect_stdout(io.StringIO()):
        code = main(["triage", str(images), "--precision", "fp32", "--db", str(work / "t.sqlite"),
                     "--out", str(work / "t-out")])  # fmt: skip
    assert code == 0, code
    return time.monotonic() - started


def timed_batch(images: Path, work: Path, workers: int) -> tuple[float, float]:
    """End-to-end seconds, and the steady rate (images/s) between the first and last batch."""
    marks: list[tuple[float, int]] = []
    argv = ["batch", str(images), "--workers", str(workers), "--db", str(work / f"b{workers}.sqlite"),
            "--out", str(work / f"b{workers}-out")]  # fmt: skip
    started = time.monotonic()
    with contextlib.redirect_stdout(io.StringIO()):
        code = batch.run(parse(argv), on_batch=lambda n, _: marks.append((time.monotonic(), n)))
    assert code == 0, code
    total = time.monotonic() - started
    steady = sum(n for _, n in marks[1:]) / max(marks[-1][0] - marks[0][0], 1e-9)
    return total, steady


def main_bench() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=48)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="batch-bench-") as tmp:
        work = Path(tmp)
        images = work / "images"
        images.mkdir()
        replicate(images, args.images)
        triage_s = timed_triage(images, work)
        triage_rate = args.images / triage_s
        print(f"{args.images} images; triage end to end: {triage_rate:.2f} images/s ({triage_s:.1f} s)")
        print(f"{'workers':>7}  {'end to end':>12}  {'vs triage':>9}  {'steady':>12}")
        for workers in args.workers:
            total, steady = timed_batch(images, work, workers)
            rate = args.images / total
            print(
                f"{workers:>7}  {rate:>7.2f} img/s  {rate / triage_rate:>8.2f}x  {steady:>7.2f} img/s"
                f"  ({total:.1f} s)"
            )


if __name__ == "__main__":
    main_bench()
