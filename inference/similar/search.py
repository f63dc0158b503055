"""Similar-study search over a store: study vectors from the store's image embeddings, an index on
disk beside the store, brought up to date from the store before each answer."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from inference.similar.index import EXACT_MAX, StudyIndex
from inference.store import Store
from inference.text import terminal_safe

log = logging.getLogger(__name__)


class SimilarityError(Exception):
    """One query that cannot be answered (unknown or unscored study): a plain message."""


@dataclass(frozen=True)
class Neighbour:
    study_uid: str
    similarity: float  # cosine of the two study vectors: 1 = same direction, higher = more alike


def index_path(store_path: Path, weights_sha256: str) -> Path:
    """Where the index of one set of weights lives: beside the store, named by the weights."""
    return store_path.with_name(f"{store_path.name}.similar-{weights_sha256[:12]}.idx")


def study_vector(embeddings: Sequence[np.ndarray]) -> np.ndarray:
    """A study's vector: the mean of its images' (L2-normalised) embeddings, L2-normalised again."""
    mean = np.stack(embeddings).astype(np.float64).mean(axis=0)
    norm = float(np.linalg.norm(mean))
    return np.asarray(mean / norm if norm > 0 else mean, dtype=np.float32)


class SimilarCases:
    """The studies most like a given one, among a store's studies scored by one set of weights.

    The index is read from its file (rebuilt from the store when missing or damaged), takes in the
    embeddings written since it was saved at every :meth:`refresh`, and is saved again when that
    changed it (kept in memory where its folder cannot be written). Not thread-safe: use it from
    one thread at a time.
    """

    def __init__(self, store: Store, weights_sha256: str, exact_max: int = EXACT_MAX) -> None:
        self.store = store
        self.weights_sha256 = weights_sha256
        self.path = index_path(store.path, weights_sha256)
        loaded = StudyIndex.load(self.path, weights_sha256, exact_max)
        self.index = loaded if loaded is not None else StudyIndex(weights_sha256, exact_max)
        self.refresh()

    def refresh(self) -> int:
        """Take in the studies whose embeddings changed since the index last looked; returns how many."""
        mark, changed = self.store.embeddings_since(self.weights_sha256, self.index.mark)
        if changed:
            self.index.upsert({uid: study_vector(vectors) for uid, vectors in changed.items()}, mark)
            try:
                self.index.save(self.path)
            except OSError as exc:  # a read-only folder or a full disk: the index lives in memory
                log.warning("similar-case index not saved (%s): kept in memory", exc)
        return len(changed)

    def neighbours(self, study_uid: str, k: int) -> list[Neighbour]:
        """The ``k`` scored studies most like ``study_uid``, most similar first, leaving out the study
        itself and, when its patient is known, that patient's other studies."""
        if study_uid not in self.index:
            raise SimilarityError(self._why_absent(study_uid))
        exclude = {study_uid} | self.store.same_patient_studies(study_uid)
        found = self.index.search(self.index.vector(study_uid), k, exclude)
        return [Neighbour(uid, similarity) for uid, similarity in found]

    def _why_absent(self, study_uid: str) -> str:
        shown = terminal_safe(study_uid)
        if not self.store.has_study(study_uid):
            return f"no study {shown} in {self.store.path}"
        return (
            f"study {shown} has no scored frontal image with these weights (not scored yet, or "
            "scored before similar-case search existed)"
        )
