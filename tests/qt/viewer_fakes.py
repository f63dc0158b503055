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
        self.precision = "float32"
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
    """``inference.network_input.prepare_image`` for the fake files: their fake image, prepared."""
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
    """A score_studies look-alike: groups by study, predicts in batches, yields per study."""

    def score(
        entries: Sequence[ScanEntry], service, batch_size: int = 8, cancelled=None, store=None, counts=None
    ) -> Iterator[StudyResult]:
        if store is not None:  # like score_studies: record everything, score and commit what is missing
            yield from _stored_scoring(entries, service, store, batch_size, cancelled)
            return
        groups: dict[str, list[ScanEntry]] = {}
        for e in entries:
            groups.setdefault(e.meta.study_uid, []).append(e)
        todo = []
        for uid, group in groups.items():
            eligible = [e for e in group if e.status is Status.SCORED]
            if not eligible:
                yield StudyResult(uid, group[0].meta, group[0].status, group[0].reason)
                continue
            todo.append(eligible[0])
        for start in range(0, len(todo), batch_size):
            if cancelled is not None and cancelled():
                return
            batch = todo[start : start + batch_size]
            images, failed = [], []
            for e in batch:
                try:
                    im = read(e.meta.path)
                    images.append(XRayImage(im.pixels, e.meta))
                except Exception as exc:
                    failed.append(StudyResult(e.meta.study_uid, e.meta, Status.ERROR, str(exc)))
            yield from failed
            for im, pred in zip(images, service.predict(images), strict=True):
                yield StudyResult(im.meta.study_uid, im.meta, Status.SCORED, "", dict(pred.probabilities))

    return score


def _stored_scoring(entries, service, store, batch_size, cancelled) -> Iterator[StudyResult]:
    from inference.store import ImageResult

    sha = service.card.weights_sha256
    uids = store.record(entries)
    have = store.results(sha, uids)
    todo = [(e, uid) for e, uid in zip(entries, uids, strict=True) if e.status is Status.SCORED]
    for start in range(0, len(todo), batch_size):
        if cancelled is not None and cancelled():
            return
        batch = todo[start : start + batch_size]
        fresh = [(e, uid) for e, uid in batch if uid not in have]
        images = [XRayImage(np.zeros((4, 4), np.float32), e.meta) for e, _ in fresh]
        predictions = service.predict(images) if images else []
        saved = [
            ImageResult(uid, Status.SCORED, p.probabilities)
            for (_, uid), p in zip(fresh, predictions, strict=True)
        ]
        store.save_results(saved, sha)
        have.update({r.image_uid: r for r in saved})
        for e, uid in batch:
            yield StudyResult(e.meta.study_uid, e.meta, Status.SCORED, "", dict(have[uid].probabilities))


def mixed_entries() -> list[ScanEntry]:
    """Five good studies, one unreadable header, one lateral, one whose pixels fail to decode."""
    out = [entry(i) for i in range(5)]
    out.append(entry(90, Status.ERROR, "corrupt DICOM header"))
    out.append(entry(91, Status.NOT_SCORED, "lateral view", view_position="LL"))
    bad = entry(92)
    out.append(ScanEntry(meta=dataclasses.replace(bad.meta, path=Path("/data/bad.dcm"))))
    return out
