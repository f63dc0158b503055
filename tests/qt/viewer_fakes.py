"""Fakes of the inference side for fast viewer tests: no torch, no files decoded."""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np

from inference.api import (
    Heatmap,
    ImageMeta,
    LabelCard,
    ModelCard,
    Prediction,
    PreparedImage,
    Preprocessing,
    ScanEntry,
    Status,
    StudyResult,
    Task,
    XRayImage,
)

LABELS = ("Atelectasis", "Cardiomegaly", "Effusion", "Pneumothorax")


def make_card(sha: str = "a" * 64, name: str = "fake-model") -> ModelCard:
    points = {"high_sensitivity": 0.2, "youden": 0.5, "high_specificity": 0.8}
    return ModelCard(
        name=name,
        version="1.0",
        architecture="densenet121",
        task=Task.MULTILABEL,
        preprocessing=Preprocessing.CHEXNET,
        labels=tuple(LabelCard(n, operating_points=points) for n in LABELS),
        weights_sha256=sha,
    )


def probs_for(uid: str) -> dict[str, float]:
    """Deterministic pseudo-probabilities from the study uid."""
    digest = hashlib.sha256(uid.encode()).digest()
    return {label: round(digest[i] / 255.0, 3) for i, label in enumerate(LABELS)}


def entry(i: int, status: Status = Status.SCORED, reason: str = "", **meta) -> ScanEntry:
    fields = {
        "patient_id": f"PID{i:05d}",
        "accession": f"ACC{i:05d}",
        "study_date": "20240102",
        "view_position": "PA",
    }
    fields.update(meta)
    m = ImageMeta(path=Path(f"/data/study{i:05d}.dcm"), study_uid=f"1.2.{i}", **fields)
    return ScanEntry(meta=m, status=status, reason=reason)


def result(e: ScanEntry, probs: dict[str, float] | None = None) -> StudyResult:
    if e.status is not Status.SCORED:
        return StudyResult(e.meta.study_uid, e.meta, e.status, e.reason)
    return StudyResult(e.meta.study_uid, e.meta, Status.SCORED, "", probs or probs_for(e.meta.study_uid))


class FakeService:
    """Implements the TriageService protocol; records the thread of every call."""

    def __init__(self, card: ModelCard | None = None, delay: float = 0.0) -> None:
        self.card = card or make_card()
        self.device = "cpu"
        self.precision = "fp32"
        self.backend = "fake"
        self.gate = None
        self.delay = delay
        self.threads: set[int] = set()
        self.explained: list[tuple[str, str]] = []
        self.predicted = 0  # images scored

    def prepare(self, image: XRayImage) -> PreparedImage:
        return PreparedImage(image.meta, np.zeros((1, 1, 4, 4), np.float32), image.warnings)

    def predict(self, images: Sequence[XRayImage | PreparedImage]) -> list[Prediction]:
        self.threads.add(threading.get_ident())
        self.predicted += len(images)
        if self.delay:
            threading.Event().wait(self.delay)
        return [
            Prediction(im.meta.path, probs_for(im.meta.study_uid), self.card.weights_sha256) for im in images
        ]

    def explain(
        self, image: XRayImage | PreparedImage, label: str, shape: tuple[int, int] | None = None
    ) -> Heatmap:
        self.threads.add(threading.get_ident())
        self.explained.append((image.meta.study_uid, label))
        h, w = shape or image.pixels.shape  # type: ignore[union-attr]
        yy, xx = np.mgrid[0:h, 0:w]
        values = np.exp(-(((xx - w / 2) ** 2 + (yy - h / 2) ** 2) / (2 * (w / 5) ** 2))).astype(np.float32)
        return Heatmap(label, values, probs_for(image.meta.study_uid)[label])


def fake_network_input(path: Path, service) -> PreparedImage | str:
    """``inference.runtime.network_input.prepare_image`` for the fake files: their fake image, prepared."""
    try:
        return service.prepare(fake_image(path))
    except Exception as exc:
        return str(exc)


def fake_image(path: Path, uid: str | None = None) -> XRayImage:
    """A 64x64 gradient; paths containing 'bad' fail like an unreadable file."""
    from inference.io import ReadError

    if "bad" in str(path):
        raise ReadError("corrupt file (test)")
    pixels = np.tile(np.linspace(0, 1, 64, dtype=np.float32), (64, 1))
    meta = ImageMeta(path=Path(path), study_uid=uid or str(path))
    return XRayImage(pixels, meta)


def fake_scorer(read: Callable[[Path], XRayImage]):
    """The product's own ``score_studies``, reading each file as ``read`` makes it (a fake image), under
    the header the scan found for it (as reading a real file gives)."""
    from inference.runtime.scoring import score_studies

    def score(entries: Sequence[ScanEntry], service, **options) -> Iterator[StudyResult]:
        entries = list(entries)
        headers = {e.meta.path: e.meta for e in entries}

        def network_input(path: Path, service) -> PreparedImage | str:
            try:
                image = read(path)
            except Exception as exc:
                return str(exc)
            return service.prepare(XRayImage(image.pixels, headers.get(Path(path), image.meta)))

        return score_studies(entries, service, read=network_input, **options)

    return score


def mixed_entries() -> list[ScanEntry]:
    """Five good studies, one unreadable header, one lateral, one whose pixels fail to decode."""
    out = [entry(i) for i in range(5)]
    out.append(entry(90, Status.ERROR, "corrupt DICOM header"))
    out.append(entry(91, Status.NOT_SCORED, "lateral view", view_position="LL"))
    bad = entry(92)
    out.append(ScanEntry(meta=dataclasses.replace(bad.meta, path=Path("/data/bad.dcm"))))
    return out
