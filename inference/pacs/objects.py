"""Per scored study of the store: its SR and Secondary Capture, with the UIDs the store keeps for
them (so the same study, scored by the same weights, always gives objects with the same UIDs)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from inference.api import ModelCard, RankedStudy, Status
from inference.io import ReadError, read_image
from inference.pacs.report import ObjectUids, build_sc, build_sr
from inference.render.annotate import render
from inference.runtime.engine import Engine
from inference.store import Store
from inference.worklist.ranking import rank
from inference.worklist.studies import store_worklist


@dataclass(frozen=True)
class StudyObjects:
    """The SR and the SC of one study's results under one set of weights."""

    study_uid: str
    weights_sha256: str
    datasets: tuple[Dataset, Dataset]


@dataclass(frozen=True)
class Skipped:
    """A study that gets no objects, and why."""

    study_uid: str
    reason: str


def study_objects(
    store: Store,
    engine: Engine,
    card: ModelCard,
    thresholds: Mapping[str, float],
    study_uids: Sequence[str] = (),
) -> Iterator[StudyObjects | Skipped]:
    """The objects of every scored study in the store (of ``study_uids`` when given, in that order)."""
    results = store_worklist(store, card.weights_sha256).results
    ranked = {s.result.study_uid: s for s in rank(results, thresholds)}
    wanted = list(study_uids) or [uid for uid, s in ranked.items() if s.result.status is Status.SCORED]
    for uid in wanted:
        study = ranked.get(uid)
        if study is None:
            yield Skipped(uid, "not in the study store, or not scored yet by this model")
        elif study.result.status is not Status.SCORED:
            yield Skipped(uid, f"not scored ({study.result.status.value}: {study.result.reason})")
        else:
            yield _objects(study, store, engine, card, thresholds)


def _objects(
    study: RankedStudy, store: Store, engine: Engine, card: ModelCard, thresholds: Mapping[str, float]
) -> StudyObjects | Skipped:
    uid, weights_sha256 = study.result.study_uid, card.weights_sha256
    sources = _scored_dicom_headers(store, uid, weights_sha256)
    if not sources and study.result.meta.purged:
        return Skipped(
            uid, f"its files were removed by purge on {study.result.meta.purged[:10]} (results kept)"
        )
    if not sources:
        return Skipped(uid, "no scored DICOM image to refer to (PNG/JPEG studies cannot go back to a PACS)")
    lead = next((ds for path, ds in sources if path == study.result.meta.path), sources[0][1])
    try:
        bgr = _annotated(study, engine, card, thresholds)
    except (ReadError, OSError, RuntimeError, ValueError) as exc:
        return Skipped(uid, f"cannot draw the annotated image: {exc}")
    sr_uids = ObjectUids(*store.pacs_object_uids(uid, weights_sha256, "sr", _new_uids))
    sc_uids = ObjectUids(*store.pacs_object_uids(uid, weights_sha256, "sc", _new_uids))
    sc = build_sc(bgr, lead, sc_uids)
    sr = build_sr(study, [ds for _, ds in sources], card, thresholds, sr_uids, capture=sc)
    return StudyObjects(uid, weights_sha256, (sr, sc))


def _scored_dicom_headers(store: Store, study_uid: str, weights_sha256: str) -> list[tuple[Path, Dataset]]:
    """(path, header) of the study's DICOM images that these weights scored."""
    images = store.images([study_uid], include_archived=True)
    results = store.results(weights_sha256, [image.image_uid for image in images])
    headers: list[tuple[Path, Dataset]] = []
    for image in images:
        result = results.get(image.image_uid)
        if result is None or result.status is not Status.SCORED:
            continue
        path = image.entry.meta.path
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # odd values are checked where they are copied
                headers.append((path, pydicom.dcmread(path, stop_before_pixels=True)))
        except (InvalidDicomError, OSError):
            continue  # a PNG/JPEG image, or a file gone since: nothing to refer to
    return headers


def _annotated(
    study: RankedStudy, engine: Engine, card: ModelCard, thresholds: Mapping[str, float]
) -> np.ndarray:
    """The burned-in image of the study's lead image, heat map of its top finding included."""
    image = read_image(study.result.meta.path)
    finding = study.top_finding
    heatmap = engine.explain(image, finding, replaceable=False).result() if finding else None
    return render(image, heatmap, study, card, thresholds)


def _new_uids() -> tuple[str, str]:
    return str(hd.UID()), str(hd.UID())
