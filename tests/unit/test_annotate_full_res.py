"""The annotated image (viewer export, ``triage --annotate``, DICOM SC) keeps the radiograph's full
resolution, adds its caption as bands below it, wraps the caption whole to the image's width, and names
the finding whose heat map is drawn (issue #22, item 6)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from inference.api import (
    Heatmap,
    LabelCard,
    ModelCard,
    Preprocessing,
    RankedStudy,
    Status,
    StudyResult,
    Task,
    XRayImage,
)
from inference.io import read_image
from inference.render.annotate import DISCLAIMER, caption_lines, render

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"
LARGE = SAMPLES / "RG2_JPLY_fixed.dcm"  # 2140 × 1760
NARROW = SAMPLES / "IM-0115-0001.jpeg"  # 224 × 224
LONG_NAME = "chexnet-densenet121-site-finetuned-multi-institution-external-validation-onnx-runtime-fp32"
BACKGROUND = 24  # the caption bands' grey
LABELS = ("Atelectasis", "Effusion")


def card(name: str = "demo") -> ModelCard:
    labels = tuple(LabelCard(n) for n in LABELS)
    return ModelCard(name, "1.0", "densenet121", Task.MULTILABEL, Preprocessing.CHEXNET, labels, "ab" * 32)


def study(image: XRayImage) -> RankedStudy:
    probs = {"Atelectasis": 0.04, "Effusion": 0.83}
    result = StudyResult("1.2.3", image.meta, Status.SCORED, probabilities=probs)
    return RankedStudy(1, result, ("Effusion",), 1.0, "Effusion", 0.83)


def heat(image: XRayImage, label: str) -> Heatmap:
    h, w = image.pixels.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    values = np.exp(-((xx - w / 2) ** 2 + (yy - h / 2) ** 2) / (2 * (w / 5) ** 2)).astype(np.float32)
    return Heatmap(label, values, 0.04 if label == "Atelectasis" else 0.83)


THRESHOLDS = {"Atelectasis": 0.5, "Effusion": 0.5}


def test_a_large_radiograph_is_exported_at_full_resolution_with_its_caption_below() -> None:
    image = read_image(LARGE)
    h, w = image.pixels.shape
    out = render(image, heat(image, "Effusion"), study(image), card(), THRESHOLDS)
    assert out.shape[1] == w and out.shape[0] > h  # the caption is added, the image never shrinks
    plain = render(image, None, study(image), card(), THRESHOLDS)
    grey = np.clip(image.pixels * 255, 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(plain[:h, :, 0], grey)  # the radiograph itself, pixel for pixel


@pytest.mark.parametrize("with_heat", [True, False])
def test_a_long_model_name_on_a_narrow_image_wraps_and_is_never_cut(with_heat: bool) -> None:
    image = read_image(NARROW)
    h, w = image.pixels.shape
    long_card = card(LONG_NAME)
    heatmap = heat(image, "Effusion") if with_heat else None
    out = render(image, heatmap, study(image), long_card, THRESHOLDS)
    assert out.shape[1] == w
    bands = out[h:]
    # Text cut at the right edge would leave its pixels in the last columns; wrapped text keeps a margin.
    assert np.all(bands[:, -3:] == BACKGROUND)
    lines = caption_lines(heatmap, study(image), long_card, THRESHOLDS, w)
    assert len(lines) > 4
    for line in lines:
        (text_w, _), _ = cv2.getTextSize(line, cv2.FONT_HERSHEY_SIMPLEX, 0.4, 1)
        assert text_w <= w - 16
    text = "".join(lines).replace(" ", "")
    assert LONG_NAME.replace(" ", "") in text and DISCLAIMER.replace(" ", "") in text
    assert "ab" * 6 in text  # the weights hash


def test_the_caption_names_the_finding_whose_heat_map_is_drawn() -> None:
    image = read_image(NARROW)
    below = heat(image, "Atelectasis")  # a finding far below its threshold, drawn on request
    lines = caption_lines(below, study(image), card(), THRESHOLDS, 1024)
    assert lines[0].startswith("Heat map: Atelectasis")
    first = " ".join(lines[:2])
    assert "p=0.040" in first and "below its threshold 0.500" in first
    drawn = [line for line in lines if line.startswith("Atelectasis:")]
    assert drawn and "heat map" in drawn[0]
    assert caption_lines(None, study(image), card(), THRESHOLDS, 1024)[0] == "Heat map: none"
