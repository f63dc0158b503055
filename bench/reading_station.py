"""The reading station on the CPU (issue #19, item 6): cold one-image triage, peak memory scoring the
bundled samples, and end-to-end triage against a naive eager loop, for each app side by side in one run.

    .venv/bin/python bench/reading_station.py [--installed /usr/bin/cxr-triage] [--pngs DIR]
        [--rounds 3] [--cold-rounds 5] [--quick]

apps       : the dev venv's ``.venv/bin/cxr-triage`` (always), and each ``--installed`` executable: the
             .deb's ``/usr/bin/cxr-triage``, an unpacked portable archive's
             ``cxr-triage-<version>/cxr-triage``, or the archive itself (``dist/cxr-triage-*.tar.gz``,
             unpacked here into a temporary folder).
cold       : a fresh process ``APP triage ONE.png --device cpu --out TMP --db TMP/fresh.sqlite`` (the bundled
             512² NIH PNG), with a new store and a new ``CXR_TRIAGE_HOME`` every round, so nothing is
             reused; the page cache is warm (one untimed run of each app first). Target ≤ 1.5 s.
peak RSS   : ``APP triage resources/samples`` (PNG, JPEG and DICOM, one of them not a chest), the child's own
             peak resident set size from ``os.wait4``. Target ≤ 500 MB.
end to end : a fresh process each, its wall time from launch to exit, on
             - the first 200 sorted images under ``--pngs DIR`` (NIH ChestX-ray14 PNGs; skipped with a note
               when not given), and
             - 24 full-size DICOMs made here as bench/inference_speed.py makes them (the NIH DX upsampled to
               3000×2500 12-bit with mild noise), half uncompressed, half JPEG 2000 lossless, each file
               with its own study, series and instance UIDs.
             naive: the dev venv's python running ``NAIVE`` below: import torch, ``load_package`` the demo
             model, then per file a full-resolution ``read_image``, CheXNet ``prepare`` and an eager fp32
             forward pass at batch 1 under ``torch.inference_mode()`` (bench/inference_speed.py's ``naive``
             loop, in a process that imports nothing else), i.e. what a naive script costs end to end.
             product: ``APP triage DIR --device cpu --out TMP --db TMP/fresh.sqlite``, a new store and
             ``CXR_TRIAGE_HOME`` every round. Targets, naive/product: 200 PNGs ≥ 2.5×, 24 DICOMs ≥ 3×.
``--device cpu`` makes the figures the CPU's on a machine with a GPU too; where there is none it is what
``auto`` picks anyway, at the same cost (no torch import). Rounds alternate (every app, and the naive
loop, once per round) so that machine noise hits all alike; medians are printed with their number of
rounds, the ratios, the CPU (model name and the instruction-set flags that matter) and the load average:
run it on a quiet machine (on a busy 2-core one the naive loop's forward pass went from 0.1 s to 1–2 s an
image while the product slowed far less, which inflates the ratios).
``--quick``: one round of everything, 20 PNGs, 4 DICOMs, for a smoke run.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from machine import cpu  # noqa: E402  (bench/, this script's folder, is on sys.path)

from inference.bundled import DEMO_MODEL, SAMPLES  # noqa: E402
from inference.models.card import read_card  # noqa: E402

DEV_APP = ROOT / ".venv" / "bin" / "cxr-triage"
DEV_PYTHON = ROOT / ".venv" / "bin" / "python"
ONE_IMAGE = SAMPLES / "00000001_000.png"
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}
LIMIT_S = 3600  # a child still running after this is killed (and the bench fails)
TARGETS = {"cold": 1.5, "rss": 500.0, "pngs": 2.5, "dicoms": 3.0}

# The naive script: argv[1] the model package, argv[2] a folder of images (every file in it, sorted).
NAIVE = """
import sys
from pathlib import Path

import torch

from inference.io import read_image
from inference.models.package import load_package
from inference.runtime.preprocess import prepare

card, model = load_package(Path(sys.argv[1]))
with torch.inference_mode():
    for path in sorted(Path(sys.argv[2]).iterdir()):
        x = torch.from_numpy(prepare(read_image(path).pixels, card.preprocessing, card.input_size)[None])
        model(x).sigmoid()
"""


@dataclass
class Run:
    seconds: float
    peak_mb: float
    output: str


@dataclass
class Figures:
    """Every round's runs of one measure, per app (and "naive")."""

    runs: dict[str, list[Run]] = field(default_factory=dict)

    def add(self, name: str, run: Run) -> None:
        self.runs.setdefault(name, []).append(run)

    def seconds(self, name: str) -> float:
        return statistics.median(r.seconds for r in self.runs[name])

    def peak_mb(self, name: str) -> float:
        return statistics.median(r.peak_mb for r in self.runs[name])

    def rounds(self, name: str) -> int:
        return len(self.runs[name])


def timed(command: list[str], work: Path) -> Run:
    """Run ``command`` in a fresh process with ``CXR_TRIAGE_HOME`` in ``work``: seconds from launch to
    exit and its peak RSS (``os.wait4``: that child alone, and any children it waited for). Linux counts
    the peak of the process that forked it into a child's ``ru_maxrss`` too (the memory it had until
    exec), so this process never imports torch or holds large images: it stays far below any child."""
    env = dict(os.environ, CXR_TRIAGE_HOME=str(work / "home"))
    log = work / "output.txt"
    with log.open("w+", encoding="utf-8", errors="replace") as out:
        start = time.perf_counter()
        child = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        watchdog = threading.Timer(LIMIT_S, child.kill)
        watchdog.start()
        try:
            _, status, usage = os.wait4(child.pid, 0)
        finally:
            watchdog.cancel()
        seconds = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        output = out.read()
    if child.returncode != 0:
        tail = "\n".join(output.splitlines()[-20:])
        raise RuntimeError(f"{' '.join(command)} exited {child.returncode}:\n{tail}")
    peak_kb = usage.ru_maxrss / 1024 if sys.platform == "darwin" else usage.ru_maxrss  # bytes on macOS
    return Run(seconds, peak_kb / 1024, output)


def triage(app: Path, target: Path, scratch: Path) -> Run:
    """``app triage target`` on the CPU with a new store, output folder and data folder."""
    work = Path(tempfile.mkdtemp(dir=scratch))
    try:
        command = [str(app), "triage", str(target), "--device", "cpu"]
        return timed([*command, "--out", str(work / "out"), "--db", str(work / "fresh.sqlite")], work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def naive(folder: Path, scratch: Path) -> Run:
    work = Path(tempfile.mkdtemp(dir=scratch))
    try:
        return timed([str(DEV_PYTHON), "-c", NAIVE, str(DEMO_MODEL), str(folder)], work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def scored(run: Run) -> str:
    """The product's own count line ("images scored N, reused M, errors E"), or "?"."""
    found = re.search(r"images scored \d+, reused \d+, errors \d+", run.output)
    return found.group(0) if found else "?"


def nih_pngs(source: Path, count: int, folder: Path) -> Path:
    """The first ``count`` sorted image files under ``source``, copied into ``folder``."""
    images = sorted(p for p in source.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if len(images) < count:
        raise SystemExit(f"--pngs {source}: {len(images)} image files, {count} needed")
    folder.mkdir()
    for i, path in enumerate(images[:count]):
        shutil.copyfile(path, folder / f"{i:04d}_{path.name}")
    return folder


def full_size_dicoms(count: int, folder: Path) -> Path:
    """``count`` 3000×2500 12-bit DICOMs in ``folder``/dicoms, made by a child process (``make_dicoms``)."""
    out = folder / "dicoms"
    command = [str(DEV_PYTHON), __file__, "--make-dicoms", str(out), "--dicoms", str(count)]
    subprocess.run(command, check=True, cwd=ROOT)
    return out


def make_dicoms(count: int, out: Path) -> None:
    """Alternately uncompressed and JPEG 2000 lossless: the two made by bench/inference_speed.py's
    ``large_dicoms``, each copy with new UIDs so that every file is its own study. Run in a child: it
    imports torch, and the bench's own peak RSS must stay small (see :func:`timed`)."""
    import pydicom
    from inference_speed import large_dicoms  # bench/ is on sys.path (this script's folder)
    from pydicom.uid import generate_uid

    made = out.parent / "made"
    made.mkdir(parents=True)
    sources = [pydicom.dcmread(p) for p in large_dicoms(made)[:2]]  # [2] is the 2128×2000 Canon one
    out.mkdir()
    for i in range(count):
        ds = sources[i % 2]
        ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.save_as(out / f"{i:02d}_{'uncompressed' if i % 2 == 0 else 'j2k'}.dcm", enforce_file_format=True)
    shutil.rmtree(made)


def resolve_app(given: Path, scratch: Path) -> Path:
    """An executable, or a portable archive unpacked into ``scratch`` (its ``cxr-triage-*/cxr-triage``)."""
    if given.name.endswith(".tar.gz"):
        target = scratch / "unpacked"
        print(f"unpacking {given} ...", file=sys.stderr, flush=True)
        with tarfile.open(given) as archive:
            archive.extractall(target, filter="tar")
        found = sorted(target.glob("*/cxr-triage"))
        if not found:
            raise SystemExit(f"{given}: no cxr-triage-*/cxr-triage inside")
        return found[0]
    if not (given.is_file() and os.access(given, os.X_OK)):
        raise SystemExit(f"--installed {given}: not an executable file")
    return given


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--installed", type=Path, action="append", default=[],
        help="an installed cxr-triage (or the portable .tar.gz) to measure beside the dev venv; repeatable",
    )  # fmt: skip
    parser.add_argument("--pngs", type=Path, help="a folder of NIH ChestX-ray14 PNGs (the first N sorted)")
    parser.add_argument("--png-count", type=int, default=200)
    parser.add_argument("--dicoms", type=int, default=24, help="full-size DICOMs to make")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of end to end and peak RSS")
    parser.add_argument("--cold-rounds", type=int, default=5, help="rounds of the cold one-image triage")
    parser.add_argument("--quick", action="store_true", help="1 round, 20 PNGs, 4 DICOMs: a smoke run")
    parser.add_argument("--make-dicoms", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.make_dicoms is not None:
        make_dicoms(args.dicoms, args.make_dicoms)
        return 0
    if args.quick:
        args.rounds, args.cold_rounds, args.png_count, args.dicoms = 1, 1, 20, 4
    if args.pngs is not None and not args.pngs.is_dir():
        parser.error(f"--pngs {args.pngs}: not a folder")

    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="cxr-reading-station-") as tmp:
        scratch = Path(tmp)
        apps = {"dev venv": DEV_APP}
        for i, given in enumerate(args.installed):
            name = "installed" if len(args.installed) == 1 else f"installed {i + 1}"
            apps[name] = resolve_app(given.absolute(), scratch / name.replace(" ", "-"))
        sets: dict[str, Path] = {}
        if args.pngs is not None:
            sets["pngs"] = nih_pngs(args.pngs, args.png_count, scratch / "pngs")
        sets["dicoms"] = full_size_dicoms(args.dicoms, scratch)
        labels = {"pngs": f"{args.png_count} NIH PNGs", "dicoms": f"{args.dicoms} full-size DICOMs"}

        for app in apps.values():  # untimed: the page cache, for every app and the naive loop alike
            triage(app, ONE_IMAGE, scratch)
        warm = scratch / "warm"
        warm.mkdir()
        shutil.copyfile(ONE_IMAGE, warm / ONE_IMAGE.name)
        naive(warm, scratch)

        cold, rss = Figures(), Figures()
        end_to_end = {name: Figures() for name in sets}
        for r in range(max(args.rounds, args.cold_rounds)):
            print(f"round {r + 1} ...", file=sys.stderr, flush=True)
            for name, app in apps.items():
                if r < args.cold_rounds:
                    cold.add(name, triage(app, ONE_IMAGE, scratch))
                if r < args.rounds:
                    rss.add(name, triage(app, SAMPLES, scratch))
            if r < args.rounds:
                for set_name, folder in sets.items():
                    end_to_end[set_name].add("naive", naive(folder, scratch))
                    for name, app in apps.items():
                        end_to_end[set_name].add(name, triage(app, folder, scratch))

    card = read_card(DEMO_MODEL)
    samples = sum(1 for p in SAMPLES.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES | {".dcm"})
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1024**2 if sys.platform == "darwin" else 1024)
    print(f"CPU: {cpu()}")
    print(f"load average (1 min) before {load_before:.1f}, after {os.getloadavg()[0]:.1f}: other work on the "
          "machine slows the eager torch loop far more than the product")  # fmt: skip
    print(f"model: {card.name} {card.version} ({card.input_size} px), --device cpu; medians, (n) rounds; "
          f"peak RSS floor (this process's own peak) {own:.0f} MB")  # fmt: skip
    for name, app in apps.items():
        print(f"{name}: {app}")
    if args.pngs is None:
        print("note: no --pngs folder given; the NIH PNG set is skipped")
    if Path("/usr/bin/cxr-triage").exists() and Path("/usr/bin/cxr-triage") not in args.installed:
        print("note: /usr/bin/cxr-triage is installed; add --installed /usr/bin/cxr-triage to measure it")

    def line(label: str, cells: list[str], target: str = "") -> None:
        print(f"{label:44s}" + "".join(f"{c:>16s}" for c in cells) + (f"   {target}" if target else ""))

    def median(value: float, rounds: int, digits: int, missed: bool = False) -> str:
        return f"{value:.{digits}f} ({rounds}){'*' if missed else ' '}"

    print()
    line("", [f"{name} " for name in apps], "target")
    seconds = {n: cold.seconds(n) for n in apps}
    cells = [median(seconds[n], cold.rounds(n), 2, seconds[n] > TARGETS["cold"]) for n in apps]
    line("cold one-image triage, s", cells, f"≤ {TARGETS['cold']} s")
    peak = {n: rss.peak_mb(n) for n in apps}
    cells = [median(peak[n], rss.rounds(n), 0, peak[n] > TARGETS["rss"]) for n in apps]
    line(f"peak RSS, bundled samples ({samples} files), MB", cells, f"≤ {TARGETS['rss']:.0f} MB")
    line("  (its wall time, s)", [median(rss.seconds(n), rss.rounds(n), 2) for n in apps])
    for set_name, figures in end_to_end.items():
        naive_s, runs = figures.seconds("naive"), figures.rounds("naive")
        line(f"{labels[set_name]}, s; naive {naive_s:.2f} ({runs})",
             [median(figures.seconds(n), figures.rounds(n), 2) for n in apps])  # fmt: skip
        ratios = {n: naive_s / figures.seconds(n) for n in apps}
        target = TARGETS[set_name]
        line("  naive / product", [f"{ratios[n]:.2f}×{'*' if ratios[n] < target else ' '}" for n in apps],
             f"≥ {target}×")  # fmt: skip
        line(f"  peak RSS, MB; naive {figures.peak_mb('naive'):.0f}",
             [f"{figures.peak_mb(n):.0f} " for n in apps])  # fmt: skip
    print("* misses its target")
    for set_name, figures in end_to_end.items():
        for name in apps:
            counts = sorted({scored(run) for run in figures.runs[name]})
            print(f"{labels[set_name]}, {name}: {'; '.join(counts)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
