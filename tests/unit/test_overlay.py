"""The one heat-map drawing rule: smooth map, no edge at the crop border, alpha ramp from a floor,
contour, colour bar, and the annotated image drawn with it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from inference.api import (
    Heatmap,
    ImageMeta,
    LabelCard,
    ModelCard,
    Preprocessing,
    RankedStudy,
    Status,
    StudyResult,
    Task,
    XRayImage,
)
from inference.render.annotate import render
from inference.render.overlay import (
    DEFAULT_STYLE,
    OverlayStyle,
    blend,
    colour_bar,
    heat_rgba,
    smooth_map,
)

NO_CONTOUR = OverlayStyle(contour=None)


def hot_edge_map() -> np.ndarray:
    """A 7×7 map at its peak along the whole left column and top row, cool in the middle."""
    cam = np.full((7, 7), 0.1, np.float32)
    cam[:, 0] = cam[0, :] = 2.0
    return cam


def test_smooth_map_is_normalised_smooth_and_fades_to_zero_at_the_border():
    values = smooth_map(hot_edge_map(), 224, 224)
    assert values.shape == (224, 224) and values.dtype == np.float32
    assert values.min() >= 0.0 and values.max() == pytest.approx(1.0, abs=0.05)
    assert values[0].max() < 0.01 and values[:, 0].max() < 0.01  # the hot border is faded out
    steps = max(np.abs(np.diff(values, axis=0)).max(), np.abs(np.diff(values, axis=1)).max())
    assert steps < 0.1  # no block edges: nearest-neighbour upsampling would jump by ~0.95


def test_no_visible_edge_where_the_crop_meets_the_rest_of_the_image():
    image = np.zeros((300, 300), np.float32)
    image[40:264, 40:264] = smooth_map(hot_edge_map(), 224, 224)  # the crop, hot along its border
    alpha = heat_rgba(image, NO_CONTOUR)[:, :, 3].astype(int)
    assert alpha[40, 40:264].max() <= 1 and alpha[40:264, 40].max() <= 1  # next to the crop border
    assert np.abs(np.diff(alpha[36:44, 100])).max() <= 2  # across the boundary: no step
    assert alpha.max() == 255  # the heat is still there inside


def test_heat_below_the_floor_is_fully_transparent_and_the_floor_is_configurable():
    heat = np.linspace(0.0, 1.0, 101, dtype=np.float32)[None]
    alpha = heat_rgba(heat, NO_CONTOUR)[0, :, 3]
    floor = round(DEFAULT_STYLE.floor * 100)
    assert alpha[: floor + 1].max() == 0 and alpha[floor + 5] > 0 and alpha[-1] == 255
    assert np.all(np.diff(alpha.astype(int)) >= 0)  # the ramp only rises
    higher = heat_rgba(heat, OverlayStyle(floor=0.6, contour=None))[0, :, 3]
    assert higher[50] == 0 and alpha[50] > 0


def _contour_pixels(rgba: np.ndarray) -> np.ndarray:
    """Cyan-ish pixels (anti-aliased line): the inferno colours never have much more green than red."""
    r, g = rgba[:, :, 0].astype(int), rgba[:, :, 1].astype(int)
    return g - r > 100


def test_contour_outlines_the_level_and_is_optional():
    yy, xx = np.mgrid[0:200, 0:200]
    heat = np.exp(-((yy - 100) ** 2 + (xx - 100) ** 2) / (2 * 40.0**2)).astype(np.float32)
    drawn = _contour_pixels(heat_rgba(heat))
    level = np.abs(heat - DEFAULT_STYLE.contour) < 0.05
    assert drawn.sum() > 100 and (drawn & level).sum() > 0.5 * drawn.sum()
    assert not _contour_pixels(heat_rgba(heat, NO_CONTOUR)).any()


def test_colour_bar_runs_from_grey_to_the_hottest_colour():
    bar = colour_bar(100, 10)
    assert bar.shape == (10, 100, 3)
    assert tuple(bar[5, 0]) == (128, 128, 128)  # below the floor: the image shows through
    assert tuple(bar[5, -1]) == tuple(heat_rgba(np.ones((1, 1), np.float32), NO_CONTOUR)[0, 0, :3])
    assert colour_bar(0, 10).shape == (10, 0, 3)


def _card() -> ModelCard:
    labels = (LabelCard("Effusion"),)
    return ModelCard("m", "1", "densenet121", Task.MULTILABEL, Preprocessing.CHEXNET, labels, "ab" * 32)


def _study() -> RankedStudy:
    meta = ImageMeta(path=Path("a.png"), study_uid="1.2.3")
    result = StudyResult("1.2.3", meta, Status.SCORED, probabilities={"Effusion": 0.7})
    return RankedStudy(1, result, ("Effusion",), 1.0, "Effusion", 0.7)


def test_annotated_image_uses_the_rule_and_draws_the_colour_bar():
    pixels = np.zeros((120, 160), np.float32)  # black: the grey under the heat is 0 on any path
    values = np.zeros_like(pixels)
    values[10:110, 30:130] = smooth_map(hot_edge_map(), 100, 100)
    image = XRayImage(pixels, ImageMeta(path=Path("a.png"), study_uid="1.2.3"))
    heatmap = Heatmap("Effusion", values, 0.7)
    with_heat = render(image, heatmap, _study(), _card(), {"Effusion": 0.5})
    without = render(image, None, _study(), _card(), {"Effusion": 0.5})
    expected = blend(np.zeros((120, 160, 3), np.uint8), heat_rgba(values), DEFAULT_STYLE.opacity)
    np.testing.assert_array_equal(with_heat[:120], expected[:, :, ::-1])  # written as BGR
    hottest = colour_bar(2, 1)[0, -1][::-1]
    assert np.all(with_heat[120:] == hottest, axis=-1).any()  # the colour bar under the image
    assert not np.all(without[120:] == hottest, axis=-1).any()
    assert with_heat.shape[0] > without.shape[0]


def test_annotated_tiny_image_still_renders():
    image = XRayImage(np.ones((1, 1), np.float32), ImageMeta(path=Path("a.png"), study_uid="1.2.3"))
    heatmap = Heatmap("Effusion", np.ones((1, 1), np.float32), 0.7)
    assert render(image, heatmap, _study(), _card(), {"Effusion": 0.5}).shape[1] == 1


@pytest.mark.parametrize("shape", [(2000, 2128), (3000, 2500), (513, 700)])
def test_a_large_crop_gets_the_map_shaped_small_and_stretched_within_0005(shape):
    import cv2

    from inference.render.overlay import MAP_SIDE, _fade

    height, width = shape
    cam = np.random.default_rng(height).random((7, 7)).astype(np.float32)
    full = cv2.resize(cam / cam.max(), (width, height), interpolation=cv2.INTER_CUBIC)
    reference = np.clip(full, 0.0, 1.0) * np.outer(_fade(height, 7), _fade(width, 7))
    values = smooth_map(cam, height, width)
    assert values.shape == shape and values.dtype == np.float32
    assert float(np.abs(values - reference).max()) < 0.005
    assert max(shape) > MAP_SIDE  # the stretched path, not the direct one
