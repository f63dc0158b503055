"""The engine's promise, without Qt: a heat map the reader asks for overtakes a scoring job already
running. It waits for the batch in flight, never for the rest of the folder; the job then goes on and
scores every study."""

from __future__ import annotations

import functools
import threading
from pathlib import Path

import numpy as np

from inference.api import Heatmap, ImageMeta, Prediction, PreparedImage, ScanEntry, XRayImage
from inference.bundled import DEMO_MODEL
from inference.models.card import read_card
from inference.runtime import engine as engine_module
from inference.runtime.engine import Engine
from inference.runtime.scoring import score_studies

STUDIES = 12


class SlowService:
    """A service whose every batch takes a while, recording what ran in which order."""

    device, precision, backend, gate = "cpu", "fp32", "slow", None

    def __init__(self) -> None:
        self.card = read_card(DEMO_MODEL)
        self.calls: list[str] = []
        self.scoring = threading.Event()

    def prepare(self, image: XRayImage) -> PreparedImage:
        return PreparedImage(image.meta, np.zeros((1, 3, 8, 8), np.float32), image.warnings)

    def predict(self, images) -> list[Prediction]:
        self.scoring.set()
        threading.Event().wait(0.05)
        self.calls.append("predict")
        label = self.card.shown_labels[0]
        return [Prediction(im.meta.path, {label: 0.5}, self.card.weights_sha256) for im in images]

    def explain(self, image, label: str, shape=None) -> Heatmap:
        self.calls.append("explain")
        return Heatmap(label, np.zeros(shape or (8, 8), np.float32), 0.5)


def read(path: Path, service: SlowService) -> PreparedImage:
    """The network input of a file that is not there: a blank image under its name."""
    return service.prepare(XRayImage(np.zeros((8, 8), np.float32), ImageMeta(Path(path), str(path))))


def test_a_heat_map_overtakes_the_running_scoring_job(monkeypatch) -> None:
    monkeypatch.setattr(engine_module, "prepare_image", read)
    service = SlowService()
    engine = Engine(
        loader=lambda package, device: service,
        scorer=functools.partial(score_studies, read=read),
        batch_size=1,
    )
    entries = [ScanEntry(ImageMeta(Path(f"/data/{i}.png"), f"1.2.{i}")) for i in range(STUDIES)]
    try:
        engine.load(DEMO_MODEL, "cpu").result(timeout=30)
        job = engine.score(entries, STUDIES)
        assert service.scoring.wait(timeout=30)
        shown = XRayImage(np.zeros((16, 16), np.float32), entries[-1].meta)
        heatmap = engine.explain(shown, service.card.shown_labels[0]).result(timeout=30)
        counts = job.done.result(timeout=60)
    finally:
        engine.shutdown()
    assert heatmap.values.shape == (16, 16)
    assert counts.scored == STUDIES and service.calls.count("predict") == STUDIES
    assert service.calls.index("explain") <= 2  # after the batch in flight (and at most one more)
