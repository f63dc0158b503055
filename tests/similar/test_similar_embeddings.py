"""Embeddings: computed in the scoring forward pass, stored per (image, weights), reused on the next run."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from inference.api import ImageMeta, XRayImage
from inference.io import scan
from inference.runtime.scoring import score_studies
from inference.runtime.service import ModelService, load_service
from inference.similar import SimilarCases
from inference.store import Store
from inference.worklist.studies import RunCounts


@pytest.fixture(scope="module")
def service(random_package: Path) -> ModelService:
    # torch: the forward passes counted here are torch's (ONNX Runtime's export would be traced too)
    return load_service(random_package, device="cpu", precision="fp32", backend="torch")


def _image(seed: int) -> XRayImage:
    pixels = np.random.default_rng(seed).random((96, 80), dtype=np.float32)
    return XRayImage(pixels, ImageMeta(Path(f"{seed}.png"), f"study-{seed}"))


@contextmanager
def _forwards(service: ModelService) -> Iterator[list[int]]:
    """Counts the forward passes through the network's features while in the block."""
    calls: list[int] = []
    handle = service._model.features.register_forward_hook(lambda *_: calls.append(1))
    try:
        yield calls
    finally:
        handle.remove()


def test_predict_returns_the_normalised_pooled_features_of_the_same_forward_pass(service: ModelService):
    images = [_image(1), _image(2)]
    with _forwards(service) as calls:
        predictions = service.predict(images)
    assert len(calls) == 1  # scores and embeddings from one pass over the batch
    model = service._model
    with torch.inference_mode():
        batch = torch.from_numpy(np.concatenate([service.prepare(im).inputs for im in images]))
        pooled = model.pool(model.forward_features(batch))
        expected = torch.nn.functional.normalize(pooled, dim=1).numpy()
        logits = model(batch).sigmoid().numpy()
    for prediction, vector, scores in zip(predictions, expected, logits, strict=True):
        assert prediction.embedding is not None and prediction.embedding.dtype == np.float32
        assert prediction.embedding.shape == (1024,)
        assert np.linalg.norm(prediction.embedding) == pytest.approx(1.0, abs=1e-5)
        np.testing.assert_allclose(prediction.embedding, vector, atol=1e-5)
        assert prediction.probabilities[service.card.labels[0].name] == pytest.approx(scores[0], abs=1e-5)


def _write_films(folder: Path, count: int) -> Path:
    folder.mkdir()
    rng = np.random.default_rng(7)
    for i in range(count):
        film = (rng.random((128, 112)) * 255).astype(np.uint8)
        cv2.imwrite(str(folder / f"film{i}.png"), cv2.GaussianBlur(film, (9, 9), 0))
    return folder


def test_embeddings_are_stored_and_a_second_run_reuses_them(tmp_path: Path, service: ModelService):
    films = _write_films(tmp_path / "films", 3)
    sha = service.card.weights_sha256
    with Store(tmp_path / "studies.sqlite") as store:
        first = RunCounts()
        list(score_studies(scan([films]), service, store=store, counts=first))
        mark, stored = store.embeddings_since(sha)
        assert first.scored == 3 and len(stored) == 3
        assert all(len(v) == 1 and v[0].shape == (1024,) for v in stored.values())
        second = RunCounts()
        with _forwards(service) as calls:
            list(score_studies(scan([films]), service, store=store, counts=second))
        assert (second.scored, second.reused, calls) == (0, 3, [])  # nothing recomputed
        assert store.embeddings_since(sha, mark) == (mark, {})  # nothing rewritten
        uid = next(iter(stored))
        found = SimilarCases(store, sha).neighbours(uid, k=5)
        assert len(found) == 2 and all(-1.0 <= n.similarity <= 1.0 + 1e-6 for n in found)
