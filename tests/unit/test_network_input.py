"""One path from a file to network input: the heat map, the training cache and the crop box agree with
what scoring feeds the network."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from inference.api import ImageMeta, Preprocessing, XRayImage
from inference.bundled import DEMO_MODEL, SAMPLES
from inference.cli.main import main
from inference.io import read_image
from inference.runtime import preprocess
from inference.runtime.engine import Engine
from inference.runtime.network_input import prepare_image
from inference.runtime.service import load_service
from inference.store import Store

# A JPEG 2000 DICOM of 2k pixels a side: scoring decodes it at a coarse wavelet level, not in full.
J2K = SAMPLES / "DX_chest_PA_canon_J2KR_MONO1_966_fixed.dcm"


@pytest.fixture(scope="module")
def service():
    return load_service(DEMO_MODEL, device="cpu")


@pytest.mark.slow
def test_the_heat_map_shown_is_that_of_the_input_that_was_scored(tmp_path: Path):
    db = tmp_path / "s.sqlite"
    assert main(["triage", str(J2K), "--db", str(db), "--out", str(tmp_path / "out"), "--device", "cpu"]) == 0
    with Store(db) as store:
        (image,) = store.images()
        row = store.results(load_service(DEMO_MODEL, device="cpu", backend="torch").card.weights_sha256)
    probabilities = row[image.image_uid].probabilities
    shown = read_image(J2K)  # what the viewer shows: the full image
    engine = Engine()
    try:
        engine.load(DEMO_MODEL, "cpu").result(timeout=300)
        for label in ("Pneumonia", "Effusion"):
            heatmap = engine.explain(shown, label).result(timeout=120)
            assert heatmap.values.shape == shown.pixels.shape
            assert heatmap.probability == pytest.approx(probabilities[label], abs=1e-6)
    finally:
        engine.shutdown()


def test_the_training_cache_sees_what_scoring_feeds_the_network(service):
    from inference.fit.train.augment import crop, to_batch
    from inference.fit.train.cache import load_one

    cached, issue = load_one(J2K, service.card.input_size)
    assert issue == "" and cached is not None
    trained_on = to_batch([crop(cached, service.card.input_size)]).numpy()
    scored = prepare_image(J2K, service)
    assert not isinstance(scored, str)
    np.testing.assert_allclose(trained_on, scored.inputs, atol=1e-5)


@pytest.mark.parametrize("convention", list(Preprocessing))
@pytest.mark.parametrize("shape", [(300, 260), (260, 300), (224, 224), (1000, 240)])
def test_the_crop_box_is_where_the_network_input_comes_from(
    convention: Preprocessing, shape: tuple[int, int]
):
    """A bright square drawn exactly over the box fills the network input, its surround stays out."""
    box = preprocess.crop_box(shape, convention, 224)
    h, w = shape
    pixels = np.zeros(shape, np.float32)
    top, left = round(box.top * h), round(box.left * w)
    pixels[top : top + round(box.height * h), left : left + round(box.width * w)] = 1.0
    inputs = preprocess.prepare(pixels, convention, 224)
    inside = inputs[:, 2:-2, 2:-2]  # the resize may blend the outermost pixel with the surround
    outside = preprocess.prepare(np.zeros(shape, np.float32), convention, 224)
    assert np.ptp(inside, axis=(1, 2)).max() < 1e-4  # uniform: all of it from the square
    assert (inside[:, 0, 0] > outside[:, 0, 0]).all()  # and that is the bright square, not the surround


def test_a_heat_map_is_placed_over_the_box_at_any_resolution(service):
    shape = (2000, 1600)
    prepared = service.prepare(
        XRayImage(np.random.default_rng(0).random((500, 400), np.float32), ImageMeta(Path("a"), "s"))
    )
    heatmap = service.explain(prepared, "Pneumonia", shape)
    box = prepared.box
    rows = np.flatnonzero(heatmap.values.any(axis=1))
    columns = np.flatnonzero(heatmap.values.any(axis=0))
    assert heatmap.values.shape == shape
    assert rows[0] >= round(box.top * shape[0]) and rows[-1] < round((box.top + box.height) * shape[0])
    assert columns[0] >= round(box.left * shape[1]) and columns[-1] < round((box.left + box.width) * shape[1])
