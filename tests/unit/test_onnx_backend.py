"""The ONNX Runtime backend: export, parity with torch, fallback, the export cache, the CLI flag."""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from inference.api import XRayImage
from inference.cli.main import main
from inference.fit import package_export
from inference.io import read_image
from inference.models.card import read_card, write_card
from inference.models.package import load_package
from inference.runtime.backends import onnx, onnx_export
from inference.runtime.engine import ModelInfo
from inference.runtime.service import ModelService, load_service

SAMPLES = Path(__file__).parents[2] / "resources" / "samples"
RADIOGRAPHS = ("00000001_000.png", "DX_chest_NIH_google_1024_8bit.dcm")


@pytest.fixture
def package(random_package: Path, tmp_path: Path) -> Path:
    """A copy of the random 224-px CheXNet package without the export it carries (as an older package)."""
    copy = Path(shutil.copytree(random_package, tmp_path / "package"))
    (copy / onnx.PACKAGE_FILE).unlink()
    write_card(copy, dataclasses.replace(read_card(copy), onnx=None))
    return copy


@pytest.fixture(scope="module")
def images() -> list[XRayImage]:
    return [read_image(SAMPLES / name) for name in RADIOGRAPHS]


def settled(package: Path, images: list[XRayImage], backend: str = "auto") -> ModelService:
    """A fp32 CPU service (its runtime settled when it loaded) that has scored ``images``."""
    service = load_service(package, device="cpu", precision="fp32", backend=backend)
    service.predict(images)
    return service


def exports(folder: Path) -> list[Path]:
    """The exports in ``folder``'s cache (a package's, or the data folder's: the only one written)."""
    return sorted((folder / onnx.CACHE_FOLDER).glob("*.onnx"))


def test_onnx_runtime_agrees_with_torch_on_real_radiographs_and_returns_embeddings(
    package: Path, images: list[XRayImage], private_data: Path
) -> None:
    reference = settled(package, images, "torch")
    service = settled(package, images, "onnx")
    assert (service.backend, service.precision, reference.backend) == ("onnx", "fp32", "torch")
    for ours, theirs in zip(service.predict(images), reference.predict(images), strict=True):
        gap = max(abs(p - theirs.probabilities[name]) for name, p in ours.probabilities.items())
        assert gap <= onnx.PARITY_TOLERANCE
        assert ours.embedding is not None and theirs.embedding is not None
        assert ours.embedding.shape == (1024,)
        np.testing.assert_allclose(ours.embedding, theirs.embedding, atol=1e-5)
    assert [p.name for p in exports(private_data)] == [onnx.cached_name(service.card.weights_sha256)]
    assert exports(package) == []  # a package folder is never written


def test_the_backend_is_settled_when_the_model_loads(package: Path, images: list[XRayImage]) -> None:
    service = load_service(package, device="cpu", precision="fp32")
    assert service.backend == "onnx"


def test_a_parity_failure_falls_back_to_torch_and_says_why(
    package: Path, images: list[XRayImage], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(onnx_export, "PARITY_TOLERANCE", 0.0)
    with caplog.at_level(logging.WARNING, logger="inference.runtime.backends.onnx_export"):
        service = settled(package, images)
    assert service.backend == "torch"
    assert "differs from torch" in caplog.text and "scoring with torch" in caplog.text
    reference = settled(package, images, "torch")
    assert [p.probabilities for p in service.predict(images)] == [
        p.probabilities for p in reference.predict(images)
    ]
    with pytest.raises(ValueError, match="the onnx backend cannot be used: the ONNX export differs"):
        load_service(package, device="cpu", backend="onnx")


def test_a_second_load_reuses_the_export_keyed_by_the_weights_sha256(
    package: Path, images: list[XRayImage], monkeypatch: pytest.MonkeyPatch, private_data: Path
) -> None:
    settled(package, images)
    calls: list[Path] = []
    real_export = onnx_export.export
    monkeypatch.setattr(
        onnx_export, "export", lambda model, path: calls.append(path) or real_export(model, path)
    )
    assert settled(package, images).backend == "onnx"
    assert calls == []
    card, model = load_package(package)
    other = dataclasses.replace(card, weights_sha256="0" * 64)  # as if these were other weights
    assert onnx_export.export_to_cache(model, other) == private_data / onnx.CACHE_FOLDER / onnx.cached_name(
        "0" * 64
    )
    assert calls == [private_data / onnx.CACHE_FOLDER / onnx.cached_name("0" * 64)]


def test_the_export_a_package_carries_is_used_only_while_it_matches_its_card(
    package: Path,
    images: list[XRayImage],
    private_data: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    section = package_export.add_export(package)
    assert read_card(package).onnx == section and section.parity <= onnx.PARITY_TOLERANCE
    exported: list[Path] = []
    real_export = onnx_export.export
    monkeypatch.setattr(
        onnx_export, "export", lambda model, path: exported.append(path) or real_export(model, path)
    )
    service = settled(package, images)
    assert (service.backend, service._fp32.path) == ("onnx", package / "model.onnx")
    assert exported == [] and exports(private_data) == []

    with (package / "model.onnx").open("ab") as fh:  # changed since the card was written
        fh.write(b"\0")
    with caplog.at_level(logging.WARNING, logger="inference.runtime.backends.onnx"):
        service = settled(package, images)
    assert "does not match its model card's sha256" in caplog.text
    assert service.backend == "onnx" and exported == [private_data / onnx.CACHE_FOLDER / exported[0].name]


def test_a_damaged_cached_export_is_exported_again(
    package: Path, images: list[XRayImage], private_data: Path
) -> None:
    settled(package, images)
    (cached,) = exports(private_data)
    cached.write_bytes(b"not an onnx model")
    assert settled(package, images).backend == "onnx"
    assert cached.stat().st_size > 1_000_000


def test_explicit_onnx_needs_onnxruntime(package: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(onnx, "runtime_available", lambda: False)
    assert load_service(package, device="cpu").backend == "torch"
    with pytest.raises(ValueError, match="onnxruntime is not installed"):
        load_service(package, device="cpu", backend="onnx")


def test_an_unknown_backend_is_refused(package: Path) -> None:
    with pytest.raises(ValueError, match="unknown backend 'tensorrt'"):
        load_service(package, device="cpu", backend="tensorrt")


def worklist_probabilities(out: Path) -> dict[str, float]:
    rows = json.loads((out / "worklist.json").read_text())["studies"]
    (row,) = [r for r in rows if r["file"].endswith("DX_chest_NIH_google_1024_8bit.dcm")]
    return {k: v for k, v in row.items() if k in ("Pneumonia", "Effusion", "Cardiomegaly")}


def test_the_triage_flag_chooses_the_backend_and_onnx_scores_like_torch(
    package: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from inference.runtime import service as service_module

    studies = tmp_path / "studies"
    studies.mkdir()
    for name in RADIOGRAPHS:
        shutil.copy(SAMPLES / name, studies / name)
    backends: list[str] = []
    real_load = service_module.load_service

    def load(*args: Any) -> ModelService:
        service = real_load(*args)
        backends.append(args[-1])
        return service

    monkeypatch.setattr(service_module, "load_service", load)
    results = {}
    for backend in ("torch", "onnx"):
        out = tmp_path / backend
        argv = ["triage", str(studies), "--model", str(package), "--out", str(out), "--device", "cpu"]
        argv += ["--precision", "fp32", "--batch-size", "1", "--db", str(tmp_path / f"{backend}.sqlite")]
        assert main([*argv, "--backend", backend]) == 0
        results[backend] = worklist_probabilities(out)
    assert backends == ["torch", "onnx"]
    assert results["onnx"] == pytest.approx(results["torch"], abs=onnx.PARITY_TOLERANCE)


@pytest.mark.parametrize("command", [["triage", "x"], ["pull", "http://pacs/dicom-web"]])
def test_the_commands_refuse_an_unknown_backend(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main([*command, "--backend", "tensorrt"])
    assert exc.value.code == 2
    assert "invalid choice: 'tensorrt'" in capsys.readouterr().err


def test_the_status_bar_names_the_backend(random_package: Path) -> None:
    from viewer.qt.status_widgets import model_details

    service = load_service(random_package, device="cpu", backend="torch")
    info = ModelInfo(random_package, service.card, service.device, "fp32", service.backend)
    assert model_details(info).startswith("Scored by PyTorch on cpu, in fp32")


def test_without_torch_the_messages_name_what_to_install_or_run(
    package: Path, random_package: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from inference.runtime import service as service_module

    monkeypatch.setattr(service_module, "torch_installed", lambda: False)
    with pytest.raises(ValueError, match=f"add one with `cxr-triage model export {package}`"):
        load_service(package, device="cpu")
    with pytest.raises(ValueError, match=r"bf16 scoring needs torch: install the training install"):
        load_service(random_package, device="cpu", precision="bf16")
    assert load_service(random_package, device="cpu").backend == "onnx"  # it carries its export
