"""Optional int8 (ONNX Runtime static quantization): only on request, behind parity, cached, CPU only."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from inference.api import XRayImage
from inference.bundled import DEMO_MODEL
from inference.cli.main import main
from inference.io import read_image
from inference.runtime import onnx_service
from inference.runtime.backends import int8, onnx
from inference.runtime.service import ModelService, load_service

SAMPLES = Path(__file__).parents[2] / "resources" / "samples"
RADIOGRAPHS = ("00000001_000.png", "person1000_bacteria_2931.jpeg")


@pytest.fixture(scope="module")
def module_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("home")


@pytest.fixture(autouse=True)
def home(module_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The data folder, where exports and quantized models are cached, is shared by this module's tests
    (quantizing takes a while); each test still has its own study store."""
    monkeypatch.setenv("CXR_TRIAGE_HOME", str(module_home))
    return module_home


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the demo model (with the fp32 export it ships; quantized once, by the first test)."""
    return Path(shutil.copytree(DEMO_MODEL, tmp_path_factory.mktemp("package") / "demo"))


@pytest.fixture(scope="module")
def images() -> list[XRayImage]:
    return [read_image(SAMPLES / name) for name in RADIOGRAPHS]


def settled(package: Path, images: list[XRayImage], precision: str, backend: str = "onnx") -> ModelService:
    """A CPU service (its precision settled when it loaded) that has scored ``images``."""
    service = load_service(package, device="cpu", precision=precision, backend=backend)
    service.predict(images)
    return service


def _stem(sha: str) -> str:
    """The fp32 export's name without .onnx: quantized files are named after it."""
    return onnx.cached_name(sha).removesuffix(".onnx")


def quantized(home: Path) -> list[Path]:
    return sorted((home / onnx.CACHE_FOLDER).glob("*.int8-*.onnx"))


def test_int8_scores_real_radiographs_within_the_tolerance_of_torch_fp32(
    package: Path, images: list[XRayImage], home: Path
) -> None:
    service = load_service(package, device="cpu", precision="int8")  # backend auto: int8 means onnx
    assert (service.backend, service.precision) == ("onnx", "int8")  # settled when it loaded
    reference = settled(package, images, "fp32", "torch")
    for ours, theirs in zip(service.predict(images), reference.predict(images), strict=True):
        gap = max(abs(p - theirs.probabilities[name]) for name, p in ours.probabilities.items())
        assert 0 < gap <= int8.PARITY_TOLERANCE  # quantized (not equal), yet within the gate
    sha = service.card.weights_sha256
    assert [p.name for p in quantized(home)] == [f"{_stem(sha)}.int8-{int8.CALIBRATION_TAG}.onnx"]
    assert not list(package.rglob("*.int8-*"))  # a package folder is never written


def test_int8_is_used_only_when_asked_for(
    package: Path, images: list[XRayImage], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(onnx_service, "int8_runner", lambda *args: pytest.fail("int8 was not asked for"))
    service = settled(package, images, "fp32")
    assert (service.backend, service.precision) == ("onnx", "fp32")


def test_int8_outside_its_parity_falls_back_to_onnx_fp32_and_says_why(
    package: Path, images: list[XRayImage], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(int8, "PARITY_TOLERANCE", 0.0)
    with caplog.at_level(logging.WARNING, logger="inference.runtime.backends.int8"):
        service = settled(package, images, "int8")
    assert (service.backend, service.precision) == ("onnx", "fp32")
    assert "int8 differs from fp32" in caplog.text and "using onnx fp32" in caplog.text


def test_the_quantized_model_is_cached_and_reused(
    package: Path, images: list[XRayImage], monkeypatch: pytest.MonkeyPatch, home: Path
) -> None:
    settled(package, images, "int8")  # quantized here unless an earlier test did it
    (cached,) = quantized(home)
    written = cached.stat().st_mtime_ns

    def no_quantizing(*args: object) -> None:
        raise AssertionError("quantized again")

    monkeypatch.setattr(int8, "quantize", no_quantizing)
    assert settled(package, images, "int8").precision == "int8"
    assert cached.stat().st_mtime_ns == written


def test_a_new_calibration_tag_quantizes_again(
    package: Path, images: list[XRayImage], monkeypatch: pytest.MonkeyPatch
) -> None:
    sha = settled(package, images, "int8").card.weights_sha256
    monkeypatch.setattr(int8, "CALIBRATION_TAG", "other-calibration")
    made: list[Path] = []
    monkeypatch.setattr(int8, "quantize", lambda source, target, inputs: made.append(target))
    assert settled(package, images, "int8").precision == "fp32"  # the fake quantizer writes nothing
    assert [p.name for p in made] == [f"{_stem(sha)}.int8-other-calibration.onnx"]


def test_int8_is_refused_with_the_torch_backend_and_off_the_cpu(package: Path) -> None:
    with pytest.raises(ValueError, match="int8 precision cannot be used: .*--backend torch"):
        load_service(package, device="cpu", precision="int8", backend="torch")
    with pytest.raises(ValueError, match="int8 precision cannot be used: it runs on the CPU, not cuda"):
        int8.check_int8("onnx", "cuda")


def test_the_triage_command_refuses_int8_with_the_torch_backend(
    package: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["triage", str(SAMPLES / RADIOGRAPHS[0]), "--model", str(package), "--out", str(tmp_path / "out")]
    argv += ["--device", "cpu", "--db", str(tmp_path / "s.db"), "--precision", "int8", "--backend", "torch"]
    assert main(argv) == 2
    assert "int8 precision cannot be used" in capsys.readouterr().err
