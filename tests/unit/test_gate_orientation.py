"""The gate's orientation discriminant: the Fisher direction and its per-source bias separate turned
embeddings from upright ones, the gate file carries it (and old files without it still load), and the
gate stops an embedding on the turned side after its other rules; the shipped gate stops the bundled
radiographs turned 180° or upside down, most of which the distance alone lets pass."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import cv2
import numpy as np
import pytest

from inference.api import GateCard, ImageMeta, PreparedImage, Status
from inference.bundled import DEMO_MODEL
from inference.fit.card_md import render
from inference.fit.gate import Embedded, passed
from inference.gate import METHOD, Gate, GateStats, describe
from inference.gate.check import OUTSIDE_TRAINING, TURNED
from inference.gate.orientation import ORIENTATION_REPORT, Orientation, calibrate, fit_direction
from inference.gate.stats import fit_stats, read_stats, stats_bytes
from inference.models.card import read_card
from inference.runtime.network_input import prepare_image
from inference.runtime.scoring import image_result, predict_each
from inference.runtime.service import ModelService, load_service
from inference.store import ImageResult

D = 64
SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"


def clusters(rng: np.random.Generator, n: int, offset: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Upright and turned embeddings: correlated Gaussian noise (the same mixing for both classes),
    the turned ones shifted along two coordinates."""
    mixing = np.random.default_rng(0).normal(size=(D, D)) / np.sqrt(D)
    upright = rng.normal(size=(n, D)) @ mixing + offset
    turned = rng.normal(size=(n, D)) @ mixing + offset + np.r_[2.0, -2.0, np.zeros(D - 2)]
    return upright, turned


def test_the_fisher_direction_and_per_source_bias_separate_turned_from_upright():
    rng = np.random.default_rng(1)
    offsets = {"adult": np.zeros(D), "paediatric": rng.normal(scale=0.5, size=D)}
    fit = {src: clusters(rng, 300, offset) for src, offset in offsets.items()}
    direction = fit_direction(
        np.concatenate([u for u, _ in fit.values()]), np.concatenate([t for _, t in fit.values()])
    )
    assert np.std(np.concatenate([u for u, _ in fit.values()]) @ direction, ddof=1) == pytest.approx(1.0)
    calibration = {src: clusters(rng, 200, offset)[0] for src, offset in offsets.items()}
    orientation = calibrate(direction, calibration, 0.99)
    for src, offset in offsets.items():
        assert np.mean(orientation.scores(calibration[src]) <= 0) >= 0.99
        upright, turned = clusters(rng, 500, offset)  # held out
        assert np.mean(orientation.scores(upright) <= 0) >= 0.97
        assert np.mean(orientation.scores(turned) > 0) >= 0.9


def test_the_bias_lets_at_least_the_quantile_of_every_source_pass_and_is_no_stricter():
    direction = np.r_[1.0, np.zeros(D - 1)]
    rng = np.random.default_rng(2)
    # The second source sits higher on the direction: it sets the bias. Ten images at quantile 0.95
    # need all ten at or below 0 (an interpolated quantile would leave the highest above it).
    sources = {"low": rng.normal(size=(10, D)), "high": rng.normal(size=(10, D)) + direction * 3}
    orientation = calibrate(direction, sources, 0.95)
    assert np.all(orientation.scores(sources["high"]) <= 0)
    assert orientation.bias == pytest.approx(-sources["high"][:, 0].max())
    assert np.mean(orientation.scores(sources["low"]) <= 0) >= 0.95
    # At 0.8, eight of the ten pass and the bias is no stricter than that.
    assert np.sum(calibrate(direction, sources, 0.8).scores(sources["high"]) <= 0) == 8


def _stats(orientation: Orientation | None) -> GateStats:
    rng = np.random.default_rng(3)
    return dataclasses.replace(fit_stats(rng.normal(size=(200, D)), k=4), orientation=orientation)


def _write(path: Path, **arrays: np.ndarray) -> Path:
    np.savez(path, **arrays)
    return path


def test_the_gate_file_carries_the_orientation_and_old_files_load_without_it(tmp_path: Path):
    weights = np.random.default_rng(4).normal(size=D)
    with_it = tmp_path / "with.npz"
    with_it.write_bytes(stats_bytes(_stats(Orientation(weights, -1.25))))
    read = read_stats(with_it).orientation
    assert read is not None and read.bias == pytest.approx(-1.25)
    np.testing.assert_allclose(read.weights, weights, rtol=1e-6)

    without = tmp_path / "without.npz"
    without.write_bytes(stats_bytes(_stats(None)))
    with np.load(without) as data:
        assert "orientation_weights" not in data and "orientation_bias" not in data
        old = {k: data[k] for k in data}  # exactly what the gate wrote before the orientation part
    assert read_stats(_write(tmp_path / "old.npz", **old)).orientation is None

    short = {**old, "orientation_weights": weights[:-1].astype(np.float32), "orientation_bias": np.float32(0)}
    with pytest.raises(ValueError, match="orientation_weights has shape"):
        read_stats(_write(tmp_path / "short.npz", **short))
    half = {**old, "orientation_weights": weights.astype(np.float32)}
    with pytest.raises(ValueError, match="lacks orientation_bias"):
        read_stats(_write(tmp_path / "half.npz", **half))


@pytest.fixture
def image(tmp_path: Path) -> PreparedImage:
    smooth = np.tile(np.linspace(0, 1, 64, dtype=np.float32), (1, 3, 64, 1))  # passes the image statistics
    return PreparedImage(ImageMeta(path=tmp_path / "x.png", study_uid="1"), smooth)


def _gate(orientation: Orientation | None) -> Gate:
    """Distance = the embedding's length (unit variances about 0); the threshold is 10."""
    stats = GateStats(np.zeros(D), np.eye(4, D), np.ones(4), 1.0, orientation)
    return Gate(stats, GateCard(METHOD, "gate.npz", "0" * 64, 10.0, 4))


def test_the_gate_stops_an_embedding_on_the_turned_side_after_its_other_rules(image: PreparedImage):
    gate = _gate(Orientation(np.eye(D)[0], -0.5))  # coordinate 0 above 0.5: turned
    turned = gate.check(image, np.eye(D)[0])
    assert turned.reason == f"{TURNED}: orientation score 0.50, limit 0)"
    assert turned.reason.startswith("does not look like a frontal chest radiograph (it looks rotated")
    assert turned.score == pytest.approx(0.1)  # the distance score, as the viewer shows it
    upright = gate.check(image, -np.eye(D)[0])
    assert upright.passed and upright.score == pytest.approx(0.1)
    far = gate.check(image, 20 * np.eye(D)[0])  # turned side too, but far from the training data
    assert far.reason == f"{OUTSIDE_TRAINING}: gate score 2.00, limit 1)"
    noisy = dataclasses.replace(
        image, inputs=np.random.default_rng(5).random((1, 3, 64, 64)).astype(np.float32)
    )
    assert "noise-like texture" in gate.check(noisy, np.eye(D)[0]).reason


def test_a_gate_from_an_old_file_never_gives_the_orientation_reason(tmp_path: Path, image: PreparedImage):
    old_file = _write(
        tmp_path / "old.npz",
        mean=np.zeros(D, np.float32),
        components=np.eye(4, D, dtype=np.float32),
        variances=np.ones(4, np.float32),
        residual_variance=np.float32(1.0),
    )
    old = dataclasses.replace(_gate(None), stats=read_stats(old_file))
    new = _gate(Orientation(np.eye(D)[0], -0.5))
    embeddings = np.random.default_rng(6).normal(scale=0.5, size=(50, D))  # all within the distance limit
    assert all(old.check(image, e).passed for e in embeddings)
    assert any(new.check(image, e).reason.startswith(TURNED) for e in embeddings)


def test_the_fit_report_counts_an_image_on_the_turned_side_as_stopped():
    stats = _gate(Orientation(np.eye(D)[0], -0.5)).stats
    assert stats is not None
    # upright; turned; far from the training data; stopped by the image statistics; and one unreadable
    vectors = np.stack([np.zeros(D), np.eye(D)[0], 20 * np.eye(D)[1], np.zeros(D)])
    group = Embedded(vectors, np.array([False, False, False, True]), np.zeros(4), unreadable=1)
    assert passed(group, stats, 10.0).tolist() == [True, False, False, False, False]


def test_model_info_and_the_card_say_when_the_orientation_check_is_active():
    card = read_card(DEMO_MODEL)
    assert card.gate is not None
    without = dataclasses.replace(card, gate=dataclasses.replace(card.gate, calibration={}))
    with_it = dataclasses.replace(
        card, gate=dataclasses.replace(card.gate, calibration={ORIENTATION_REPORT: {}})
    )
    assert "orientation" not in describe(without) and "Orientation:" not in render(without)
    assert "orientation discriminant" in describe(with_it) and "Orientation:" in render(with_it)


def _outcomes(paths: list[Path], service: ModelService, gate: Gate) -> list[ImageResult]:
    items = [prepare_image(p, service) for p in paths]
    scores = iter(predict_each(service, [i for i in items if isinstance(i, PreparedImage)]))
    return [image_result(str(p), item, scores, gate) for p, item in zip(paths, items, strict=True)]


def test_the_shipped_gate_stops_bundled_radiographs_turned_180_or_upside_down_that_the_distance_lets_pass(
    tmp_path: Path,
):
    service = load_service(DEMO_MODEL, device="cpu", precision="fp32")
    assert service.gate is not None and service.gate.stats is not None
    assert service.gate.stats.orientation is not None  # the demo package's gate.npz carries it
    turned = []
    for path in sorted(p for p in SAMPLES.iterdir() if p.suffix in (".png", ".jpg", ".jpeg")):
        pixels = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        for name, pixels_turned in (("180", np.rot90(pixels, 2)), ("upside-down", pixels[::-1])):
            turned.append(tmp_path / f"{name}-{path.stem}.png")
            cv2.imwrite(str(turned[-1]), np.ascontiguousarray(pixels_turned))
    results = _outcomes(turned, service, service.gate)
    assert [r.status for r in results] == [Status.NOT_SCORED] * len(turned), [r.reason for r in results]
    assert any(r.reason.startswith(TURNED) for r in results)
    distance_only = dataclasses.replace(
        service.gate, stats=dataclasses.replace(service.gate.stats, orientation=None)
    )
    passing = [r for r in _outcomes(turned, service, distance_only) if r.status is Status.SCORED]
    assert len(passing) >= len(turned) // 2  # what the orientation rule adds: most of these


def test_every_calibration_image_that_passes_still_passes_once_the_gate_file_is_loaded(tmp_path: Path):
    # The image at the calibrated quantile scores exactly 0; rounding the file's numbers (or summing in
    # another order) must not push it over the limit. Twenty draws: a coin-flip failure cannot hide.
    rng = np.random.default_rng(7)
    for trial in range(20):
        embeddings = rng.normal(loc=3.0, size=(50, 1024)).astype(np.float32)  # as the model returns them
        orientation = calibrate(rng.normal(size=1024), {"site": embeddings}, 0.9)
        path = tmp_path / f"{trial}.npz"
        path.write_bytes(stats_bytes(_stats_1024(orientation)))
        loaded = read_stats(path).orientation
        assert loaded is not None
        assert sum(loaded.score(e) <= 0 for e in embeddings) >= 45, trial  # at least 0.9 of 50 pass


def _stats_1024(orientation: Orientation) -> GateStats:
    rng = np.random.default_rng(8)
    return dataclasses.replace(fit_stats(rng.normal(size=(50, 1024)), k=4), orientation=orientation)
