"""Patient-disjoint, seeded train/validation/test splits, stratified per source."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from inference.fit.train.datasets import Sample


def split_by_patient(
    samples: list[Sample], val_fraction: float, test_fraction: float, seed: int = 0
) -> dict[str, list[int]]:
    """Indices of ``train``/``val``/``test``. Every image of a patient lands in one split; patients
    are stratified by (source, their sorted findings' first member) so each split sees each class."""
    patients: dict[str, list[int]] = defaultdict(list)
    for i, s in enumerate(samples):
        patients[s.patient].append(i)
    strata: dict[tuple[str, str], list[str]] = defaultdict(list)
    for patient, idx in sorted(patients.items()):
        first = samples[idx[0]]
        findings = sorted(set().union(*(samples[i].findings for i in idx)))
        strata[(first.source, findings[0] if findings else "")].append(patient)
    rng = np.random.default_rng(seed)
    out: dict[str, list[int]] = {"train": [], "val": [], "test": []}
    for key in sorted(strata):
        group = strata[key]
        order = rng.permutation(len(group))
        n_test = int(round(test_fraction * len(group)))
        n_val = int(round(val_fraction * len(group)))
        for rank, k in enumerate(order):
            split = "test" if rank < n_test else "val" if rank < n_test + n_val else "train"
            out[split].extend(patients[group[k]])
    return {k: sorted(v) for k, v in out.items()}
