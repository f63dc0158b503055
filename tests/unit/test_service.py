"""The model service: batching, shown labels, output transforms, precision check, Grad-CAM."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from inference.api import ImageMeta, Task, XRayImage
from inference.io import read_image
from inference.models.package import load_package
from inference.runtime import torch_service
from inference.runtime.explain import captum_cam
from inference.runtime.service import ModelService, load_service
from inference.runtime.torch_service import TorchService

SAMPLE = Path(__file__).parents[2] / "resources" / "samples" / "00000001_000.png"


@pytest.fixture(scope="module")
def image() -> XRayImage:
    return read_image(SAMPLE)


@pytest.fixture(scope="module")
def service(random_package: Path) -> ModelService:
    return load_service(random_package, device="cpu", precision="fp32")  # exact comparisons below


def test_batch_equals_one_by_one(service: ModelService, image: XRayImage):
    flipped = XRayImage(np.ascontiguousarray(image.pixels[::-1]), ImageMeta(Path("flipped.png"), "f"))
    together = service.predict([image, flipped])
    alone = service.predict([flipped])
    assert [p.path for p in together] == [image.meta.path, Path("flipped.png")]
    for name, p in alone[0].probabilities.items():
        assert together[1].probabilities[name] == pytest.approx(p, abs=1e-5)
    assert together[0].probabilities != together[1].probabilities


def test_only_trained_labels_are_reported(random_package: Path, image: XRayImage):
    card, model = load_package(random_package)
    labels = tuple(dataclasses.replace(lab, trained=lab.name != "Hernia") for lab in card.labels)
    partial = TorchService(dataclasses.replace(card, labels=labels), model)
    assert "Hernia" not in partial.predict([image])[0].probabilities
    assert len(partial.predict([image])[0].probabilities) == 13


def test_multiclass_cards_get_softmax(random_package: Path, image: XRayImage):
    svc = load_service(random_package, device="cpu")
    card, model = load_package(random_package)
    multiclass = TorchService(dataclasses.replace(card, task=Task.MULTICLASS), model)
    assert sum(multiclass.predict([image])[0].probabilities.values()) == pytest.approx(1.0, abs=1e-5)
    assert sum(svc.predict([image])[0].probabilities.values()) > 2  # independent sigmoids


def test_tencrop_averages_ten_crops(random_package: Path, image: XRayImage):
    plain = load_service(random_package, device="cpu").predict([image])[0].probabilities
    tta = load_service(random_package, device="cpu", tta="tencrop").predict([image])[0].probabilities
    assert tta.keys() == plain.keys()
    assert any(abs(tta[k] - plain[k]) > 1e-4 for k in plain)


def test_fp32_is_the_default_and_settled_at_load_even_where_bf16_would_pass(
    monkeypatch, random_package: Path, image: XRayImage
):
    monkeypatch.setattr(torch_service, "bf16_dtype", lambda device: torch.bfloat16)
    svc = load_service(random_package, device="cpu")
    assert (svc.precision, svc.backend) == ("fp32", "onnx")  # before any image: nothing left pending
    svc.predict([image])
    assert svc.precision == "fp32"


def test_bf16_only_when_asked_and_within_parity(monkeypatch, random_package: Path):
    monkeypatch.setattr(torch_service, "bf16_dtype", lambda device: torch.bfloat16)
    svc = load_service(random_package, device="cpu", precision="bf16")
    assert (svc.precision, svc.backend) == ("bf16", "torch")  # a random DenseNet stays well within 0.02
    monkeypatch.setattr(torch_service, "PARITY_TOLERANCE", 0.0)
    assert load_service(random_package, device="cpu", precision="bf16").precision == "fp32"


def test_bf16_is_refused_where_the_hardware_lacks_it(monkeypatch, random_package: Path):
    def no_bf16(device: torch.device) -> torch.dtype:
        raise ValueError("bf16 precision cannot be used: cpu here has no native bf16")

    monkeypatch.setattr(torch_service, "bf16_dtype", no_bf16)
    with pytest.raises(ValueError, match="no native bf16"):
        load_service(random_package, device="cpu", precision="bf16")


def test_the_runtime_chosen_does_not_depend_on_the_first_images(random_package: Path, image: XRayImage):
    blank = XRayImage(np.zeros((256, 256), np.float32), image.meta)
    first = load_service(random_package, device="cpu")
    second = load_service(random_package, device="cpu")
    first.predict([blank])  # the old parity check ran on whatever came first
    second.predict([image, blank])
    assert (first.backend, first.precision) == (second.backend, second.precision)
    ours, theirs = first.predict([image])[0], second.predict([image])[0]
    assert max(abs(ours.probabilities[k] - theirs.probabilities[k]) for k in ours.probabilities) <= 1e-6


@pytest.mark.parametrize("backend", ["onnx", "torch"])
def test_heatmap_covers_the_image_and_leaves_no_hooks(random_package: Path, backend: str, image: XRayImage):
    service = load_service(random_package, device="cpu", backend=backend)
    assert service.backend == backend
    heatmap = service.explain(image, "Pneumonia")
    assert heatmap.values.shape == image.pixels.shape and heatmap.values.dtype == np.float32
    assert heatmap.values.min() >= 0.0 and heatmap.values.max() == pytest.approx(1.0, abs=0.01)
    assert heatmap.probability == pytest.approx(
        service.predict([image])[0].probabilities["Pneumonia"], abs=1e-5
    )
    model = getattr(service, "_model", load_package(random_package)[1])
    assert not any(m._forward_hooks or m._backward_hooks or m._forward_pre_hooks for m in model.modules())


def test_grad_cam_matches_a_hand_written_grad_cam(random_package: Path):
    model = load_package(random_package)[1]
    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    features = model.forward_features(x).detach().requires_grad_(True)
    model.forward_head(features)[0, 6].backward()
    weights = features.grad.mean(dim=(2, 3), keepdim=True)
    expected = torch.relu((weights * features).sum(dim=1))[0].detach()
    cam, logits = captum_cam(model, x, 6)
    peak = float(expected.max())
    assert np.abs((cam / peak).numpy() - (expected / peak).numpy()).max() < 1e-4
    assert logits.shape == (14,)


def test_unknown_device_is_refused(random_package: Path):
    with pytest.raises(ValueError, match="unknown device"):
        load_service(random_package, device="tpu")
