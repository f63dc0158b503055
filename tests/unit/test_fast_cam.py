"""Grad-CAM from the forward pass: equal to Captum's LayerGradCam, every finding from one pass."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from inference.api import XRayImage
from inference.bundled import DEMO_MODEL, SAMPLES
from inference.io import read_image
from inference.runtime import preprocess, torch_service
from inference.runtime.explain import captum_cam, forward_cams
from inference.runtime.service import ModelService, load_service

REAL = ["00011973_015.png", "00000001_000.png", "CR_chest_SIIM_jpegbaseline_8bit.dcm"]


@pytest.fixture(scope="module")
def service(random_package: Path) -> ModelService:
    """The bundled demo model (trained weights: realistic feature maps), else a random package."""
    package = DEMO_MODEL if (DEMO_MODEL / "card.json").is_file() else random_package
    return load_service(package, device="cpu", precision="fp32", backend="torch")


def network_input(service: ModelService, image: XRayImage) -> torch.Tensor:
    card = service.card
    return torch.from_numpy(preprocess.prepare(image.pixels, card.preprocessing, card.input_size)[None])


@pytest.mark.parametrize("name", REAL)
def test_forward_cams_equal_captum_layer_grad_cam_on_real_images(service: ModelService, name: str):
    model = service._model
    x = network_input(service, read_image(SAMPLES / name))
    cams, logits = forward_cams(model, x)
    assert cams.shape[0] == logits.shape[0] == len(service.card.labels)
    for target in range(len(service.card.labels)):
        reference, reference_logits = captum_cam(model, x, target)
        assert cams[target].shape == reference.shape
        scale = max(float(reference.max()), 1e-12)
        assert float((cams[target] - reference).abs().max()) / scale < 1e-3, target
        assert torch.allclose(logits, reference_logits, atol=1e-4)


def test_every_finding_of_one_image_costs_one_forward_pass(service: ModelService, monkeypatch):
    calls: list[int] = []

    def counted(model, inputs):
        calls.append(1)
        return forward_cams(model, inputs)

    monkeypatch.setattr(torch_service, "forward_cams", counted)
    monkeypatch.setattr(service, "_last_cams", None)
    image = read_image(SAMPLES / REAL[0])
    copy = XRayImage(image.pixels.copy(), image.meta)  # the engine hands over a copy per request
    heatmaps = [
        service.explain(copy if i % 2 else image, name) for i, name in enumerate(service.card.shown_labels)
    ]
    assert len(calls) == 1
    assert len({h.label for h in heatmaps}) == len(service.card.shown_labels)
    service.explain(read_image(SAMPLES / REAL[1]), service.card.shown_labels[0])
    assert len(calls) == 2  # a new image is a new pass


def test_heatmap_probability_is_the_scoring_probability(service: ModelService):
    image = read_image(SAMPLES / REAL[0])
    label = service.card.shown_labels[0]
    expected = service.predict([image])[0].probabilities[label]
    assert service.explain(image, label).probability == pytest.approx(expected, abs=1e-5)


def test_heatmap_fades_to_zero_at_the_crop_border_and_is_zero_outside(service: ModelService):
    image = read_image(SAMPLES / REAL[0])
    values = service.explain(image, service.card.shown_labels[0]).values
    rows, cols = np.nonzero(values)
    top, bottom, left, right = rows.min(), rows.max(), cols.min(), cols.max()
    border = np.concatenate(
        [values[top, left : right + 1], values[bottom, left : right + 1], values[top : bottom + 1, left],
         values[top : bottom + 1, right]]
    )  # fmt: skip
    assert values.max() > 0.5 and border.max() < 0.01
