"""``cxr-triage model gate``: a package without a gate (as an import leaves it) gets the gate's feature
part from a folder of the site's radiographs (here the repository's own, augmented); the gate passes
the site's images and stops a smooth gradient and upside-down radiographs, the card says where its
figures come from, and too few images or too many components are refused."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from inference.api import PreparedImage, Status
from inference.bundled import DEMO_MODEL
from inference.cli import main as cli
from inference.fit import site_gate as site_fit_module
from inference.fit.gate import generated_negatives
from inference.gate import load_gate
from inference.gate.check import OUTSIDE_TRAINING, TURNED
from inference.io import read_image
from inference.models.card import read_card
from inference.runtime.network_input import prepare_image
from inference.runtime.scoring import image_result, predict_each
from inference.runtime.service import ModelService, load_service
from inference.store import ImageResult

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "resources" / "samples"
CHEST_SAMPLES = sorted(p for p in SAMPLES.iterdir() if not p.name.startswith(("RG2", "README")))
TRAIN_FIXTURES = ROOT / "tests" / "fixtures" / "train"
CHEST = CHEST_SAMPLES + sorted(p for p in TRAIN_FIXTURES.rglob("*") if p.suffix in (".png", ".jpeg"))
AUGMENTED = 81  # with the 3 bundled DICOM files: 84 images, 63 to fit and 21 to calibrate


def run(*argv: object) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(["model", *map(str, argv)])
    return code, out.getvalue(), err.getvalue()


def imported_package(folder: Path) -> Path:
    """The demo package's weights, export and card without its gate: what ``model import`` leaves."""
    folder.mkdir()
    shutil.copy(DEMO_MODEL / "model.safetensors", folder)
    shutil.copy(DEMO_MODEL / "model.onnx", folder)
    card = json.loads((DEMO_MODEL / "card.json").read_text())
    del card["gate"]
    (folder / "card.json").write_text(json.dumps(card))
    return folder


def augmented(pixels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A distinct radiograph: a small random crop, rescaled, with another brightness and contrast."""
    h, w = pixels.shape
    top, bottom, left, right = (int(v) for v in rng.integers(0, [h // 12, h // 12, w // 12, w // 12]))
    crop = pixels[top : h - bottom, left : w - right]
    side = int(rng.integers(256, 513))
    crop = cv2.resize(crop, (side * crop.shape[1] // crop.shape[0], side), interpolation=cv2.INTER_AREA)
    changed = (crop - 0.5) * rng.uniform(0.85, 1.15) + 0.5 + rng.uniform(-0.05, 0.05)
    return np.round(np.clip(changed, 0, 1) * 255).astype(np.uint8)


def site_images(folder: Path, n: int, seed: int = 0) -> list[Path]:
    """``n`` augmented radiographs as PNG in a sub-folder (the fit reads folders recursively)."""
    rng = np.random.default_rng(seed)
    (folder / "ward").mkdir(parents=True)
    pixels = [read_image(p).pixels for p in CHEST]
    paths = [folder / "ward" / f"{i:03d}.png" for i in range(n)]
    for i, path in enumerate(paths):
        cv2.imwrite(str(path), augmented(pixels[i % len(pixels)], rng))
    return paths


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path], str]:
    """The package, the site's images, and what the command printed: the fit runs once."""
    tmp = tmp_path_factory.mktemp("site")
    package = imported_package(tmp / "pkg")
    site = tmp / "site"
    images = site_images(site, AUGMENTED)
    for dicom in (p for p in CHEST_SAMPLES if p.suffix == ".dcm"):  # as the site's PACS exports them
        images.append(Path(shutil.copy(dicom, site)))
    (site / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    (site / "notes.txt").write_text("not an image")
    code, out, err = run("gate", package, site)
    assert code == 0, err
    return package, images, out


def outcomes(paths: list[Path], service: ModelService) -> list[ImageResult]:
    assert service.gate is not None
    items = [prepare_image(p, service) for p in paths]
    scores = iter(predict_each(service, [i for i in items if isinstance(i, PreparedImage)]))
    return [image_result(str(p), item, scores, service.gate) for p, item in zip(paths, items, strict=True)]


def test_the_command_writes_a_gate_the_package_loads_with_a_report_of_the_site_images(
    fitted: tuple[Path, list[Path], str],
) -> None:
    package, _, out = fitted
    card = read_card(package)
    assert card.gate is not None
    assert card.gate.sha256 == hashlib.sha256((package / "gate.npz").read_bytes()).hexdigest()
    gate = load_gate(package, card)
    assert gate.stats is not None and gate.stats.orientation is not None
    report = dict(card.gate.calibration)
    assert report["source"] == "site images: site, 84 images"  # the folder's name, never its path
    assert (report["images_read"], report["files_skipped"]) == (84, 2)  # the corrupt PNG and the text
    assert (report["fit_images"], report["calibration_images"]) == (63, 21)
    rate = report["calibration_pass_rate"]
    assert isinstance(rate, float) and rate >= 20 / 21
    assert "84 images read, 2 files skipped: 63 fit, 21 calibrate" in out
    assert f"calibration pass rate {rate:.1%}" in out


def test_the_site_gate_passes_the_site_images_and_stops_a_gradient_and_upside_down_radiographs(
    fitted: tuple[Path, list[Path], str], tmp_path: Path
) -> None:
    package, images, _ = fitted
    service = load_service(package, device="cpu", precision="fp32")
    site = outcomes(images, service)
    assert sum(r.status is Status.SCORED for r in site) >= 0.95 * len(images), [r.reason for r in site]
    upside_down = []
    for path in CHEST_SAMPLES[:4]:
        upside_down.append(tmp_path / f"upside-down-{path.stem}.png")
        cv2.imwrite(str(upside_down[-1]), np.round(read_image(path).pixels[::-1] * 255).astype(np.uint8))
    gradients = generated_negatives(tmp_path / "negatives", n=4)["gradient"]
    stopped = outcomes(upside_down + gradients, service)
    # The image statistics alone pass all of these: the feature part stops them.
    assert all(r.reason.startswith((OUTSIDE_TRAINING, TURNED)) for r in stopped), [r.reason for r in stopped]


def test_model_info_and_the_card_say_the_gate_comes_from_the_site_images(
    fitted: tuple[Path, list[Path], str],
) -> None:
    package, _, _ = fitted
    code, out, _ = run("info", package)
    assert code == 0
    assert "distance to the site images' features (ppca-mahalanobis, 32 components" in out
    assert "orientation discriminant" in out
    text = (package / "card.md").read_text()
    assert "of the site's own radiographs'" in text and "site images: site, 84 images" in text
    assert "images used for neither" not in text and "none held out" in " ".join(text.split())


def test_too_few_images_or_too_many_components_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = imported_package(tmp_path / "pkg")
    code, out, _ = run("info", package)
    assert code == 0 and "fit one from your own radiographs: cxr-triage model gate PACKAGE IMAGES_DIR" in out
    site_images(tmp_path / "site", 8)
    code, _, err = run("gate", package, tmp_path / "site")
    assert code == 2
    assert "8 images read (0 files skipped) give 6 fit and 2 calibration images" in err
    assert "at least 40 and 20 are needed" in err
    monkeypatch.setattr(site_fit_module, "MIN_FIT", 3)
    monkeypatch.setattr(site_fit_module, "MIN_CALIBRATION", 1)
    code, _, err = run("gate", package, tmp_path / "site", "--components", "5")
    assert code == 2 and "--components 5 is too many for 6 fit images: at most 4" in err
    assert not (package / "gate.npz").exists() and read_card(package).gate is None
