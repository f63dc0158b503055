"""Stores with studies and hand-made embeddings for the similar-case tests (no model, no files read)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from inference.api import ImageMeta, ScanEntry, Status
from inference.store import ImageResult, Store

DIM = 8
SHA = "b" * 64


def unit(*values: float) -> np.ndarray:
    """A unit vector of DIM dimensions starting with ``values``."""
    v = np.zeros(DIM, np.float32)
    v[: len(values)] = values
    return v / np.linalg.norm(v)


def add_study(
    store: Store,
    study_uid: str,
    vectors: list[np.ndarray],
    patient_id: str = "",
    probabilities: dict[str, float] | None = None,
    sha: str = SHA,
) -> list[str]:
    """Record a study of one image per vector and save each image's result with that embedding."""
    entries = [
        ScanEntry(
            ImageMeta(
                path=Path(f"/data/{study_uid}-{i}.png"),
                study_uid=study_uid,
                sop_uid=f"{study_uid}.{i}",
                patient_id=patient_id,
                view_position="PA",
            )
        )
        for i in range(len(vectors))
    ]
    uids = store.record(entries)
    store.save_results(
        [
            ImageResult(uid, Status.SCORED, probabilities or {"Pneumonia": 0.5}, embedding=v)
            for uid, v in zip(uids, vectors, strict=True)
        ],
        sha,
    )
    return uids
