"""How far apart the probabilities of the same images are when scored along each path of the product,
in one run, against ``cxr-triage triage`` with its defaults (fp32, batches of 8) on the same machine.

Paths: each image alone (batch 1), batches of 3, a run killed with SIGKILL halfway and resumed, ``batch``
on a local Ray, the model engine the viewer scores through, ``--backend torch`` and ``--backend onnx``,
and the opt-in precisions (bf16 where the CPU has it, int8). Every run gets a fresh store, so nothing is
reused across paths. Prints the CPU (model and the flags that matter) and, per path, the largest
absolute difference of any output of any image, and whether the precision recorded in the store is fp32.

    .venv/bin/python bench/reproducibility.py [--skip-ray]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from machine import cpu  # noqa: E402  (bench/, this script's folder, is on sys.path)

from inference.bundled import DEMO_MODEL, SAMPLES  # noqa: E402
from inference.cli.main import main  # noqa: E402

Scores = dict[str, dict[str, float]]  # image UID -> every output's probability


def stored(db: Path) -> tuple[Scores, set[str]]:
    """The store's current results (every output) and the precisions recorded."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT image_uid, probabilities, precision FROM results WHERE status != 'error'")
        rows = rows.fetchall()
    return {uid: json.loads(probs) for uid, probs, _ in rows}, {precision for *_, precision in rows}


def triage(studies: Path, db: Path, *options: str) -> tuple[Scores, set[str]]:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        code = main(["triage", str(studies), "--db", str(db), "--out", str(db.with_suffix("")), *options])
    if code not in (0, 1):  # 1: nothing could be scored (a single file that is no frontal chest image)
        raise RuntimeError(f"triage {' '.join(options)} exited {code}")
    return stored(db)


def alone(studies: Path, work: Path) -> tuple[Scores, set[str]]:
    scores: Scores = {}
    precisions: set[str] = set()
    for i, path in enumerate(sorted(p for p in studies.iterdir())):
        single, precision = triage(path, work / f"alone-{i}.sqlite", "--batch-size", "1")
        scores |= single
        precisions |= precision
    return scores, precisions


def resumed(studies: Path, work: Path) -> tuple[Scores, set[str]]:
    """A run killed with SIGKILL once it has committed some results, then run again to the end."""
    db = work / "killed.sqlite"
    command = [sys.executable, "-m", "inference.cli.main", "triage", str(studies), "--db", str(db)]
    command += ["--out", str(work / "killed"), "--batch-size", "2"]
    run = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    deadline = time.monotonic() + 600
    while run.poll() is None and time.monotonic() < deadline:
        with contextlib.suppress(sqlite3.Error), sqlite3.connect(db, timeout=1) as conn:
            if conn.execute("SELECT count(*) FROM results").fetchone()[0] >= 2:
                break
        time.sleep(0.05)
    run.send_signal(signal.SIGKILL)
    run.wait()
    return triage(studies, db, "--batch-size", "2")


def ray_batch(studies: Path, work: Path) -> tuple[Scores, set[str]]:
    db = work / "ray.sqlite"
    argv = [
        "batch",
        str(studies),
        "--ray",
        "local",
        "--workers",
        "2",
        "--db",
        str(db),
        "--out",
        str(work / "ray"),
    ]
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        if main(argv) != 0:
            raise RuntimeError("batch exited non-zero")
    return stored(db)


def viewer_engine(studies: Path, work: Path) -> tuple[Scores, set[str]]:
    """Scoring through the model engine the viewer's model thread owns, with its default loader."""
    from inference.io import scan
    from inference.runtime.engine import Engine, ScoringFinished
    from inference.store import Store

    db = work / "engine.sqlite"
    done = []
    with Store(db) as store:
        engine = Engine(
            lambda event: done.append(event) if isinstance(event, ScoringFinished) else None, store=store
        )
        try:
            engine.load(DEMO_MODEL, "cpu").result(timeout=600)
            entries = list(scan(studies))
            engine.score(entries, len(entries))
            deadline = time.monotonic() + 600
            while not done and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            engine.shutdown()
    return stored(db)


def gap(ours: Scores, reference: Scores) -> float:
    if ours.keys() != reference.keys():
        raise RuntimeError(f"different images scored: {sorted(ours.keys() ^ reference.keys())}")
    return max(abs(p - reference[uid][label]) for uid, probs in ours.items() for label, p in probs.items())


def main_bench() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-ray", action="store_true", help="leave out the Ray batch path")
    args = parser.parse_args()
    print(f"CPU: {cpu()}")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        os.environ["CXR_TRIAGE_HOME"] = str(work / "home")  # exports and caches of this run only
        studies = work / "studies"
        shutil.copytree(SAMPLES, studies, ignore=shutil.ignore_patterns("*.md"))
        reference, precisions = triage(studies, work / "reference.sqlite")
        print(f"reference: triage, defaults (batches of 8): {len(reference)} images, precision {precisions}")
        paths: list[tuple[str, Callable[[], tuple[Scores, set[str]]]]] = [
            ("each image alone (batch 1)", lambda: alone(studies, work)),
            ("batches of 3", lambda: triage(studies, work / "b3.sqlite", "--batch-size", "3")),
            ("killed with SIGKILL, resumed", lambda: resumed(studies, work)),
            ("viewer's engine", lambda: viewer_engine(studies, work)),
            ("--backend onnx", lambda: triage(studies, work / "onnx.sqlite", "--backend", "onnx")),
            ("--backend torch", lambda: triage(studies, work / "torch.sqlite", "--backend", "torch")),
            (
                "--precision int8 (opt-in)",
                lambda: triage(studies, work / "int8.sqlite", "--precision", "int8"),
            ),
            (
                "--precision bf16 (opt-in)",
                lambda: triage(studies, work / "bf16.sqlite", "--precision", "bf16"),
            ),
        ]
        if not args.skip_ray:
            paths.insert(3, ("batch --ray local, 2 workers", lambda: ray_batch(studies, work)))
        print(f"{'path':34s} {'max |Δp|':>10s}  precision recorded")
        for name, run in paths:
            try:
                scores, recorded = run()
            except (RuntimeError, ValueError) as exc:
                print(f"{name:34s} {'—':>10s}  not run: {exc}")
                continue
            print(f"{name:34s} {gap(scores, reference):10.2e}  {', '.join(sorted(recorded))}")


if __name__ == "__main__":
    main_bench()
