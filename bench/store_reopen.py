"""How long reopening a 10,000-study store takes: in the viewer (offscreen, up to the populated
worklist) and in ``cxr-triage worklist`` (a subprocess, interpreter start included).

The store holds synthetic results for the bundled demo model's weights; the viewer gets the card
through an injected loader, so torch is never imported. Target: under a second each.

    .venv/bin/python bench/store_reopen.py [--studies N]
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from inference.api import ImageMeta, ModelCard, ScanEntry  # noqa: E402
from inference.bundled import DEMO_MODEL  # noqa: E402
from inference.models.card import read_card  # noqa: E402  (package.read_card without torch)
from inference.store import ImageResult, Store  # noqa: E402

CHUNK = 1000


@dataclass
class CardOnly:
    """Enough of a loaded model for the viewer to show stored results: the card, no network."""

    card: ModelCard
    device: str = "cpu"
    precision: str = "float32"
    backend: str = "none"
    gate: None = None


def build_store(path: Path, card: ModelCard, studies: int) -> None:
    rng = random.Random(0)
    with Store(path) as store:
        for start in range(0, studies, CHUNK):
            entries = [
                ScanEntry(
                    ImageMeta(
                        path=Path(f"/bench/study{i:05d}.dcm"), study_uid=f"2.25.{i}", sop_uid=f"2.25.{i}.1",
                        patient_id=f"P{i:05d}", study_date="20260101", view_position="PA",
                    )
                )
                for i in range(start, min(start + CHUNK, studies))
            ]  # fmt: skip
            uids = store.record(entries)
            scored = entries[0].status
            results = [ImageResult(u, scored, {k: rng.random() for k in card.shown_labels}) for u in uids]
            store.save_results(results, card.weights_sha256)


def time_viewer(path: Path, card: ModelCard, studies: int) -> float:
    from PySide6.QtWidgets import QApplication

    from viewer.core.settings import Settings
    from viewer.qt.engine_parts import EngineParts
    from viewer.qt.main_window import MainWindow
    from viewer.qt.session import TriageSession

    app = QApplication.instance() or QApplication([])
    settings = Settings(path=path.parent / "settings.json")
    session = TriageSession(EngineParts(loader=lambda package, device: CardOnly(card)), store=Store(path))
    window = MainWindow(session, settings)
    window.show()
    start = time.perf_counter()
    window.load_model(DEMO_MODEL)
    while session.info is None or session.busy or session.worklist_model.rowCount() < studies:
        app.processEvents()
    elapsed = time.perf_counter() - start
    assert "torch" not in sys.modules, "the viewer bench must not load torch"
    window.close()
    return elapsed


def time_command(path: Path, out: Path) -> float:
    cli = Path(sys.executable).parent / "cxr-triage"
    command = [str(cli), "worklist", "--db", str(path), "--out", str(out)]
    start = time.perf_counter()
    subprocess.run(command, check=True, cwd=ROOT, capture_output=True)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=10_000)
    args = parser.parse_args()
    card = read_card(DEMO_MODEL)
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "studies.sqlite"
        os.environ["CXR_TRIAGE_HOME"] = tmp  # no settings or logs outside the temp folder
        t0 = time.perf_counter()
        build_store(db, card, args.studies)
        built = time.perf_counter() - t0
        print(f"built a {args.studies}-study store in {built:.1f} s ({os.cpu_count()} CPUs)")
        viewer = time_viewer(db, card, args.studies)
        command = time_command(db, Path(tmp) / "out")
    print(f"viewer: load model card -> {args.studies} rows shown   {viewer:.3f} s")
    print(f"cxr-triage worklist --db (subprocess, incl. start-up)  {command:.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
