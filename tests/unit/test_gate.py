"""The safety gate: generated negatives and a nuclear-medicine image are not scored, the bundled chest
radiographs pass, the hip DICOM stays stopped by its header, the gate file is checked, and the store and the
worklist keep the gate score."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import cv2
import numpy as np
import pytest
from pydicom.data import get_testdata_file

from inference.api import ImageMeta, PreparedImage, ScanEntry, Status
from inference.bundled import DEMO_MODEL
from inference.cli.commands.model import run_info
from inference.gate import Gate, load_gate
from inference.gate.image import COLOUR_WARNING, MAX_ROUGHNESS, image_problem, roughness
from inference.gate.stats import fit_stats
from inference.io import read_image, scan
from inference.models.card import PackageError, parse_card, read_card
from inference.runtime.network_input import prepare_image
from inference.runtime.scoring import image_result, predict_each
from inference.runtime.service import ModelService, load_service
from inference.store import ImageResult, Store
from inference.store import schema as schema_module
from inference.worklist.export import study_record
from inference.worklist.ranking import rank
from inference.worklist.studies import summarise_study

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "resources" / "samples"
CHEST_SAMPLES = sorted(p for p in SAMPLES.iterdir() if not p.name.startswith(("RG2", "README")))


@pytest.fixture(scope="module")
def service() -> ModelService:
    return load_service(DEMO_MODEL, device="cpu", precision="fp32")


def outcomes(paths: list[Path], service: ModelService) -> list[ImageResult]:
    items = [prepare_image(p, service) for p in paths]
    scores = iter(predict_each(service, [i for i in items if isinstance(i, PreparedImage)]))
    return [image_result(str(p), item, scores, service.gate) for p, item in zip(paths, items, strict=True)]


def _png(path: Path, pixels: np.ndarray) -> Path:
    cv2.imwrite(str(path), pixels)
    return path


def colour_scene(seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    scene = cv2.resize(rng.integers(0, 256, (4, 4, 3)).astype(np.float32), (200, 240))
    for _ in range(5):
        centre = tuple(int(v) for v in rng.integers(0, 200, 2))
        cv2.circle(
            scene, centre, int(rng.integers(10, 50)), tuple(int(v) for v in rng.integers(0, 256, 3)), -1
        )
    return scene.astype(np.uint8)


def test_the_demo_package_ships_a_gate_whose_file_matches_its_card(service: ModelService):
    card = read_card(DEMO_MODEL)
    assert card.gate is not None and card.gate.method == "ppca-mahalanobis"
    assert service.gate is not None and service.gate.stats is not None
    assert (DEMO_MODEL / card.gate.file).stat().st_size < 400_000


def test_every_bundled_chest_radiograph_passes(service: ModelService):
    results = outcomes(CHEST_SAMPLES, service)
    assert [r.status for r in results] == [Status.SCORED] * len(CHEST_SAMPLES), [r.reason for r in results]
    assert all(r.gate_score is not None and 0 < r.gate_score <= 1 for r in results)


def test_generated_negatives_and_a_nuclear_medicine_image_are_not_scored(
    tmp_path: Path, service: ModelService
) -> None:
    rng = np.random.default_rng(0)
    noise = cv2.GaussianBlur((rng.random((200, 200)) * 255).astype(np.uint8), (3, 3), 0)
    y, x = np.mgrid[0:200, 0:200]
    gradient = ((x + y) / 398 * 255).astype(np.uint8)
    paths = [
        _png(tmp_path / "noise.png", noise),
        _png(tmp_path / "photo.png", colour_scene()),
        _png(tmp_path / "gradient.png", gradient),
        # a nuclear-medicine image as bare pixels (its header alone would stop it). CT_small.dcm is the one of
        # the card's 82 pydicom negatives that pass (gate score 0.92): CT and MR margins are thin.
        Path(get_testdata_file("JPEG2000.dcm")),
    ]
    results = outcomes(paths, service)
    assert [r.status for r in results] == [Status.NOT_SCORED] * 4, [r.reason for r in results]
    assert all(r.reason.startswith("does not look like a frontal chest radiograph") for r in results)
    assert "outside the model's training data" in results[3].reason
    assert results[3].probabilities and results[3].gate_score is not None and results[3].gate_score > 1


def test_the_hip_dicom_is_still_stopped_by_its_header():
    (entry,) = scan([SAMPLES / "RG2_JPLY_fixed.dcm"])
    assert entry.status is Status.NOT_SCORED and "chest" in entry.reason


def test_image_statistics_catch_colour_and_noise_and_pass_a_smooth_image(tmp_path: Path):
    colour = read_image(_png(tmp_path / "c.png", colour_scene()))
    assert COLOUR_WARNING in colour.warnings  # the reader's words the gate relies on
    meta = ImageMeta(path=tmp_path / "x.png", study_uid="1")
    noise = np.random.default_rng(1).random((1, 3, 64, 64)).astype(np.float32)
    smooth = np.tile(np.linspace(0, 1, 64, dtype=np.float32), (1, 3, 64, 1))
    assert roughness(noise) > MAX_ROUGHNESS > roughness(smooth)
    assert "colour" in (image_problem(PreparedImage(meta, smooth, (COLOUR_WARNING,))) or "")
    assert "noise" in (image_problem(PreparedImage(meta, noise)) or "")
    assert image_problem(PreparedImage(meta, smooth)) is None


def test_ppca_distance_is_small_in_distribution_and_large_outside():
    rng = np.random.default_rng(0)
    basis = np.linalg.qr(rng.normal(size=(32, 4)))[0].T
    train = rng.normal(size=(400, 4)) * [3, 2, 1, 1] @ basis + rng.normal(scale=0.05, size=(400, 32))
    stats = fit_stats(train, k=4)
    inside, outside = train[0], train[0] + rng.normal(scale=1.0, size=32)
    assert stats.distance(inside) < 6 < stats.distance(outside)


def test_a_gate_without_feature_statistics_runs_the_image_statistics_alone(tmp_path: Path):
    meta = ImageMeta(path=tmp_path / "x.png", study_uid="1")
    smooth = np.tile(np.linspace(0, 1, 64, dtype=np.float32), (1, 3, 64, 1))
    verdict = Gate().check(PreparedImage(meta, smooth), np.ones(1024, np.float32))
    assert verdict.passed and verdict.score is None


@pytest.fixture
def package(tmp_path: Path) -> Path:
    copy = tmp_path / "pkg"
    copy.mkdir()
    for name in ("card.json", "model.safetensors", "gate.npz"):
        shutil.copy(DEMO_MODEL / name, copy / name)
    return copy


def test_a_gate_file_that_does_not_match_the_card_is_refused(
    package: Path, capsys: pytest.CaptureFixture[str]
):
    with np.load(package / "gate.npz") as data:
        arrays = {k: data[k] for k in data}
    arrays["mean"] = arrays["mean"] + 0.01
    np.savez(package / "gate.npz", **arrays)
    with pytest.raises(PackageError, match="gate.npz: sha256 .* does not match the card"):
        load_gate(package, read_card(package))
    assert run_info(type("Args", (), {"package": str(package)})()) == 1
    assert "does not match" in capsys.readouterr().err
    (package / "gate.npz").unlink()
    with pytest.raises(PackageError, match="gate file gate.npz, which is missing"):
        load_gate(package, read_card(package))


def test_model_info_says_which_parts_of_the_gate_are_active(
    package: Path, capsys: pytest.CaptureFixture[str]
):
    args = type("Args", (), {"package": str(package)})()
    assert run_info(args) == 0
    assert "distance to the training images' features (ppca-mahalanobis" in capsys.readouterr().out
    data = json.loads((package / "card.json").read_text())
    del data["gate"]
    (package / "card.json").write_text(json.dumps(data))
    assert run_info(args) == 0
    assert "image statistics (colour, noise-like texture) only" in capsys.readouterr().out


def test_the_card_validator_names_every_problem_of_a_gate_section():
    data = json.loads((DEMO_MODEL / "card.json").read_text())
    data["gate"] = {"method": "knn", "file": "../gate.npz", "sha256": "x", "threshold": 0, "components": 0}
    with pytest.raises(PackageError) as raised:
        parse_card(data, Path("pkg"))
    message = str(raised.value)
    for field in ("gate.method", "gate.file", "gate.sha256", "gate.threshold", "gate.components"):
        assert field in message


def test_migration_adds_the_gate_score_and_keeps_old_results(tmp_path: Path):
    path = tmp_path / "s.sqlite"
    with sqlite3.connect(path) as db:  # a store of schema 3, the last before the gate
        db.executescript("".join(schema_module.MIGRATIONS[:3]) + "PRAGMA user_version = 3;")
        db.execute("INSERT INTO studies (study_uid, arrived) VALUES ('1.2', 't')")
        db.execute(
            "INSERT INTO images (image_uid, study_uid, source, path, arrived, scan_status)"
            " VALUES ('1.1', '1.2', 'file', x'', 't', 'scored')"
        )
        db.execute(
            "INSERT INTO results (image_uid, weights_sha256, status, scored_at)"
            " VALUES ('1.1', 'w', 'scored', 't')"
        )
    with Store(path) as store:
        assert store.version == schema_module.VERSION
        assert store.results("w")["1.1"].gate_score is None
        store.save_results(
            [ImageResult("1.1", Status.NOT_SCORED, {"Pneumonia": 0.9}, "stopped", gate_score=2.5)], "w"
        )
        kept = store.results("w")["1.1"]
    assert (kept.status, kept.reason, kept.gate_score, dict(kept.probabilities)) == (
        Status.NOT_SCORED,
        "stopped",
        2.5,
        {"Pneumonia": 0.9},
    )


def test_a_stopped_image_is_never_ranked_and_the_worklist_shows_the_gate(tmp_path: Path):
    card = read_card(DEMO_MODEL)
    entries = [ScanEntry(ImageMeta(path=tmp_path / f"{n}.png", study_uid="s")) for n in ("a", "b")]
    passed = ImageResult("a", Status.SCORED, {"Pneumonia": 0.2}, gate_score=0.4)
    stopped = ImageResult("b", Status.NOT_SCORED, {"Pneumonia": 0.99}, "does not look like …", gate_score=3.0)
    mixed = summarise_study("s", entries, [passed, stopped])
    assert (
        mixed.status is Status.SCORED and mixed.probabilities["Pneumonia"] == 0.2 and mixed.gate_score == 3.0
    )
    alone = summarise_study("t", entries[1:], [stopped])
    assert (alone.status, alone.reason, dict(alone.probabilities)) == (Status.NOT_SCORED, stopped.reason, {})
    ranked = rank([alone], card.thresholds())
    record = study_record(ranked[0], card.shown_labels)
    assert (record["status"], record["gate"], record["Pneumonia"]) == ("not_scored", 3.0, None)
