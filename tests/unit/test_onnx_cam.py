"""Heat maps from the ONNX Runtime pass: the export's feature map output and the closed form in numpy
give Captum's LayerGradCam maps, and torch's; torch keeps them when asked for; int8 never makes them."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from inference.api import XRayImage
from inference.bundled import DEMO_MODEL, SAMPLES
from inference.io import read_image
from inference.models.package import load_package
from inference.runtime import preprocess
from inference.runtime.backends import onnx
from inference.runtime.backends.onnx import OnnxRunner
from inference.runtime.explain import captum_cam
from inference.runtime.service import ModelService, load_service

REAL = ["00011973_015.png", "00000001_000.png", "CR_chest_SIIM_jpegbaseline_8bit.dcm"]


def copy_of_model(random_package: Path, target: Path, with_export: bool = True) -> Path:
    """A copy of the bundled demo model (trained weights: realistic feature maps), else of the random
    package; with the export it ships, or with none (loading it then exports to the data folder)."""
    source = DEMO_MODEL if (DEMO_MODEL / "card.json").is_file() else random_package
    ignore = None if with_export else shutil.ignore_patterns("model.onnx")
    return Path(shutil.copytree(source, target, ignore=ignore))


@pytest.fixture(scope="module")
def package(random_package: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_of_model(random_package, tmp_path_factory.mktemp("model") / "package")


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The exports ONNX Runtime sessions are opened on, in order."""
    calls: list[Path] = []
    real = onnx.OnnxRunner.__init__

    def counted(self: OnnxRunner, path: Path, *args: object) -> None:
        calls.append(path)
        real(self, path, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(onnx.OnnxRunner, "__init__", counted)
    return calls


def network_input(service: ModelService, image: XRayImage) -> torch.Tensor:
    card = service.card
    return torch.from_numpy(preprocess.prepare(image.pixels, card.preprocessing, card.input_size)[None])


def fresh_service(package: Path, backend: str = "auto", precision: str = "fp32") -> ModelService:
    return load_service(package, device="cpu", precision=precision, backend=backend)


@pytest.mark.parametrize("name", REAL)
def test_onnx_maps_equal_captum_layer_grad_cam_on_real_images(package: Path, name: str) -> None:
    service = fresh_service(package)
    assert service.backend == "onnx"
    model = load_package(package)[1]
    x = network_input(service, read_image(SAMPLES / name))
    cams = service._cams(x.numpy())
    assert cams.maps.shape[0] == len(service.card.labels)
    for target in range(len(service.card.labels)):
        reference, reference_logits = captum_cam(model, x, target)
        assert cams.maps[target].shape == reference.shape
        scale = max(float(reference.max()), 1e-12)
        assert float(np.abs(cams.maps[target] - reference.numpy()).max()) / scale < 1e-3, target
        np.testing.assert_allclose(cams.logits, reference_logits.numpy(), atol=1e-4)


def test_the_service_explains_with_onnx_runtime_like_torch(package: Path) -> None:
    image = read_image(SAMPLES / REAL[0])
    ours, theirs = fresh_service(package), fresh_service(package, backend="torch")
    for label in ours.card.shown_labels:
        heatmap, reference = ours.explain(image, label), theirs.explain(image, label)
        assert heatmap.method.endswith("closed form, ONNX Runtime fp32")
        assert reference.method.endswith("closed form, torch fp32")
        np.testing.assert_allclose(heatmap.values, reference.values, atol=1e-3)
        assert heatmap.probability == pytest.approx(reference.probability, abs=onnx.PARITY_TOLERANCE)


def old_export(package: Path, path: Path) -> None:
    """What the backend exported before the feature map was an output: logits and pooled features."""

    class TwoOutputs(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = load_package(package)[1]

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            return self.model.forward_with_embedding(x)

    path.parent.mkdir(parents=True, exist_ok=True)
    example = torch.zeros(1, 3, 224, 224)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the legacy exporter's deprecation notices
        torch.onnx.export(
            TwoOutputs().eval(), (example,), str(path), dynamo=False, opset_version=onnx.OPSET,
            input_names=[onnx.INPUT], output_names=["logits", "pooled"],
        )  # fmt: skip


def test_an_old_two_output_export_is_replaced_not_used(
    random_package: Path, tmp_path: Path, opened: list[Path], private_data: Path
) -> None:
    package = copy_of_model(random_package, tmp_path / "package", with_export=False)
    sha = load_service(package, device="cpu", backend="torch").card.weights_sha256
    cache = private_data / onnx.CACHE_FOLDER  # where exports are written
    old_export(package, cache / f"{sha}.onnx")
    (cache / f"{sha}.int8-some-calibration.onnx").write_bytes(b"quantized from the old export")
    service = fresh_service(package, backend="onnx")
    image = read_image(SAMPLES / REAL[1])
    heatmap = service.explain(image, service.card.shown_labels[0])
    current = cache / onnx.cached_name(sha)
    assert heatmap.method.endswith("ONNX Runtime fp32")
    assert sorted(cache.iterdir()) == [current]
    assert set(opened) == {current}  # the old export is never opened
    assert not (package / onnx.CACHE_FOLDER).exists()  # a package folder is never written


def test_backend_torch_keeps_explain_on_torch(package: Path, opened: list[Path]) -> None:
    service = fresh_service(package, backend="torch")
    image = read_image(SAMPLES / REAL[0])
    assert service.explain(image, service.card.shown_labels[0]).method.endswith("torch fp32")
    service.predict([image])
    assert service.explain(read_image(SAMPLES / REAL[1]), service.card.shown_labels[0]).method.endswith(
        "torch fp32"
    )
    assert opened == []


def test_the_fp32_scoring_runner_makes_the_maps(package: Path, opened: list[Path]) -> None:
    service = fresh_service(package, backend="onnx")
    image = read_image(SAMPLES / REAL[0])
    service.predict([image])
    assert (service.backend, service.precision, len(opened)) == ("onnx", "fp32", 1)
    assert service.explain(image, service.card.shown_labels[0]).method.endswith("ONNX Runtime fp32")
    assert len(opened) == 1  # no second session


def test_an_int8_scoring_runner_never_makes_the_maps(package: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class Int8:
        precision = "int8"

        def forward_features(self, batch: np.ndarray) -> None:
            raise AssertionError("int8 made a heat map")

    service = fresh_service(package, backend="onnx")
    monkeypatch.setattr(service, "_scoring", Int8())  # as if int8 had passed its parity gate
    image = read_image(SAMPLES / REAL[0])
    assert service.precision == "int8"
    assert service.explain(image, service.card.shown_labels[0]).method.endswith("ONNX Runtime fp32")
