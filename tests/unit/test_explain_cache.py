"""Explaining several findings of one image costs one network pass and one input preparation."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from inference import preprocess
from inference.api import ImageMeta, XRayImage
from inference.service import load_service


def _image() -> XRayImage:
    pixels = np.random.default_rng(0).random((300, 260), dtype=np.float32)
    return XRayImage(pixels, ImageMeta(Path("a.png"), "study-a"))


def test_findings_of_the_same_image_reuse_its_pass_and_its_prepared_input(random_package, monkeypatch):
    service = load_service(random_package, device="cpu", precision="fp32", backend="torch")
    prepared, passes = [], []
    real_prepare = preprocess.prepare
    monkeypatch.setattr(preprocess, "prepare", lambda *a, **k: prepared.append(1) or real_prepare(*a, **k))
    service._model.features.register_forward_hook(lambda *_: passes.append(1))
    image = _image()
    labels = [lab.name for lab in service.card.labels][:3]
    maps = [service.explain(image, label) for label in labels]
    assert (len(prepared), len(passes)) == (1, 1)
    assert not np.array_equal(maps[0].values, maps[1].values)  # each finding its own map
    again = service.explain(_image(), labels[0])  # equal pixels, another object: prepared, not run
    assert (len(prepared), len(passes)) == (2, 1)
    np.testing.assert_array_equal(again.values, maps[0].values)
