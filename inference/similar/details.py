"""What a reader sees of each similar study: its findings and scores under the reader's thresholds,
and how it was read (the review), taken from the store. One builder for the CLI and the viewer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from inference.api import Status, StudyResult
from inference.similar.search import Neighbour
from inference.store import ImageResult, Review, Store, StoredImage
from inference.worklist.ranking import figures
from inference.worklist.studies import summarise_study


@dataclass(frozen=True)
class SimilarStudy:
    """A neighbour with its worklist facts; ``result`` is None when the store no longer holds it."""

    study_uid: str
    similarity: float
    result: StudyResult | None
    positive_findings: tuple[str, ...] = ()
    top_finding: str = ""
    top_probability: float | None = None
    review: Review | None = None


def describe(
    store: Store, weights_sha256: str, neighbours: Sequence[Neighbour], thresholds: Mapping[str, float]
) -> list[SimilarStudy]:
    """Each neighbour's study row (per-finding maximum over its images, as the worklist has it), its
    positive and top findings under ``thresholds``, and its review."""
    results = _study_results(store, weights_sha256, [n.study_uid for n in neighbours])
    reviews = store.reviews()
    shown = [r.probabilities if r is not None and r.status is Status.SCORED else {} for r in results]
    return [
        SimilarStudy(
            n.study_uid,
            n.similarity,
            result,
            f.positives,
            f.top_finding,
            f.top_probability,
            reviews.get(n.study_uid),
        )  # fmt: skip
        for n, result, f in zip(neighbours, results, figures(shown, thresholds), strict=True)
    ]


def _study_results(store: Store, weights_sha256: str, study_uids: Sequence[str]) -> list[StudyResult | None]:
    images = store.images(study_uids, include_archived=True)
    outcomes = store.results(weights_sha256, [im.image_uid for im in images])
    by_study: dict[str, list[StoredImage]] = {}
    for im in images:
        by_study.setdefault(im.entry.meta.study_uid, []).append(im)
    return [_summary(uid, by_study.get(uid, []), outcomes) for uid in study_uids]


def _summary(
    study_uid: str, images: Sequence[StoredImage], outcomes: Mapping[str, ImageResult]
) -> StudyResult | None:
    if not images:
        return None
    entries = [im.entry for im in images]
    return summarise_study(
        study_uid, entries, [outcomes.get(im.image_uid) for im in images], images[0].arrived
    )
