"""Peak memory of scoring many large images at batch size 1 and at batch size 16, side by side.

The pipeline decodes an image, reduces it to network input, then batches: so peak memory should
follow one full-resolution image (times the read-ahead), not batch size × image pixels. Each batch
size runs in its own process (peak RSS never goes down within a process); the child reports its own
``ru_maxrss`` after loading the model and after scoring.

    .venv/bin/python bench/memory.py [--images N] [--batch-sizes 1,16] [--device cpu]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

WIDTH, HEIGHT = 2500, 3000  # a large CR/DX detector


def synthetic_radiograph(width: int = WIDTH, height: int = HEIGHT) -> np.ndarray:
    """A 16-bit image with radiograph-like structure (smooth anatomy-sized blobs and mild noise)."""
    rng = np.random.default_rng(0)
    small = cv2.resize(rng.random((12, 10), dtype=np.float32), (width, height), interpolation=cv2.INTER_CUBIC)
    noise = rng.normal(0.0, 0.01, (height, width)).astype(np.float32)
    return (np.clip(small + noise, 0.0, 1.0) * 60000 + 2000).astype(np.uint16)


def write_images(folder: Path, count: int) -> None:
    """``count`` copies of one synthetic 16-bit PNG (decoding cost is what matters, not variety)."""
    ok, encoded = cv2.imencode(".png", synthetic_radiograph())
    if not ok:
        raise RuntimeError("could not encode the synthetic image")
    first = folder / "image_0000.png"
    first.write_bytes(encoded.tobytes())
    for i in range(1, count):
        shutil.copyfile(first, folder / f"image_{i:04d}.png")


def peak_rss_mb() -> float:
    """This process's peak resident set size in MB (ru_maxrss is KB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024**2 if sys.platform == "darwin" else peak / 1024


def child(folder: Path, batch_size: int, device: str) -> None:
    """Score every image under ``folder``; print peak RSS and timing as one JSON line."""
    from inference.bundled import DEMO_MODEL
    from inference.io import scan
    from inference.runtime.scoring import score_studies
    from inference.runtime.service import load_service

    service = load_service(DEMO_MODEL, device=device)
    loaded = peak_rss_mb()
    entries = list(scan(folder))
    start = time.perf_counter()
    results = list(score_studies(entries, service, batch_size=batch_size))
    elapsed = time.perf_counter() - start
    scored = sum(r.status == "scored" for r in results)
    print(json.dumps({"loaded_mb": loaded, "peak_mb": peak_rss_mb(), "scored": scored, "seconds": elapsed}))


def measure(folder: Path, batch_size: int, device: str) -> dict[str, float]:
    command = [sys.executable, __file__, "--child", str(folder), "--batch-size", str(batch_size)]
    out = subprocess.run([*command, "--device", device], capture_output=True, text=True, check=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=50)
    parser.add_argument("--batch-sizes", default="1,16", help="comma-separated (default: 1,16)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--batch-size", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child, args.batch_size, args.device)
        return
    sizes = [int(s) for s in args.batch_sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="cxr-memory-") as tmp:
        write_images(Path(tmp), args.images)
        rows = {b: measure(Path(tmp), b, args.device) for b in sizes}
    full_res_mb = WIDTH * HEIGHT * 4 / 1024**2
    print(f"{args.images} synthetic {WIDTH}×{HEIGHT} 16-bit PNGs, demo model, device {args.device}")
    print(f"(one decoded image as float32: {full_res_mb:.0f} MB)\n")
    print(f"{'batch size':>10} | {'peak RSS MB':>11} | {'after model load':>16} | {'growth MB':>9} | img/s")
    for b, r in rows.items():
        growth = r["peak_mb"] - r["loaded_mb"]
        rate = r["scored"] / r["seconds"]
        print(f"{b:>10} | {r['peak_mb']:>11.0f} | {r['loaded_mb']:>16.0f} | {growth:>9.0f} | {rate:5.1f}")
    first, last = rows[sizes[0]], rows[sizes[-1]]
    ratio = last["peak_mb"] / first["peak_mb"]
    print(f"\npeak RSS ratio, batch {sizes[-1]} / batch {sizes[0]}: {ratio:.2f}×")
    growth_first, growth_last = (r["peak_mb"] - r["loaded_mb"] for r in (first, last))
    print(f"growth ratio (peak minus model load): {growth_last / max(growth_first, 1.0):.2f}×")


if __name__ == "__main__":
    main()
