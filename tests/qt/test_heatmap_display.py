"""Heat maps on the image do not mislead: a finding below its threshold is drawn faintly without its
outline unless the reader asks for full strength, and the map shown is named on the image
(issue #22, problem 6)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from inference.api import Heatmap, ImageMeta, XRayImage
from inference.render.overlay import CONTOUR_RGB, smooth_map
from viewer.qt.heat_overlay import FAINT_OPACITY
from viewer.qt.image_view import DEFAULT_OPACITY, ImageView


@pytest.fixture
def view(view: ImageView) -> ImageView:
    grey = np.full((64, 64), 0.5, np.float32)
    view.set_image(XRayImage(grey, ImageMeta(path=Path("a.png"), study_uid="1")))
    return view


def hotspot() -> np.ndarray:
    values = np.zeros((64, 64), np.float32)
    values[8:56, 8:56] = smooth_map(np.eye(5, dtype=np.float32) + 0.1, 48, 48)
    return values


def outlined(view: ImageView) -> bool:
    """Whether the overlay drawn carries the contour's colour at full alpha."""
    rgba = view._overlay.image
    return bool(np.any(np.all(rgba == (*CONTOUR_RGB, 255), axis=-1)))


def test_below_threshold_map_is_faint_without_outline_and_named(view: ImageView) -> None:
    view.set_heatmap(Heatmap("Atelectasis", hotspot(), 0.04), threshold=0.30)
    assert view.faint()
    assert view._overlay.isVisible() and view._overlay.opacity() == pytest.approx(FAINT_OPACITY)
    assert not outlined(view)
    assert view.heat_caption() == "Grad-CAM: Atelectasis p=0.04 (below threshold 0.30)"


def test_above_threshold_map_is_drawn_as_before(view: ImageView) -> None:
    view.set_heatmap(Heatmap("Pleural_Effusion", hotspot(), 0.62), threshold=0.30)
    assert not view.faint()
    assert view._overlay.opacity() == pytest.approx(DEFAULT_OPACITY)
    assert outlined(view)
    assert view.heat_caption() == "Grad-CAM: Pleural Effusion p=0.62 (threshold 0.30)"


def test_full_strength_on_request_and_threshold_moves(view: ImageView) -> None:
    view.set_heatmap(Heatmap("Atelectasis", hotspot(), 0.04), threshold=0.30)
    view.set_full_strength(True)
    assert view._overlay.opacity() == pytest.approx(DEFAULT_OPACITY) and outlined(view)
    view.set_full_strength(False)
    assert view._overlay.opacity() == pytest.approx(FAINT_OPACITY) and not outlined(view)
    view.set_threshold(0.03)  # the reader lowered the threshold: the finding is now positive
    assert not view.faint() and outlined(view)
    assert view.heat_caption().endswith("(threshold 0.03)")


def test_caption_hidden_with_the_overlay(view: ImageView) -> None:
    view.set_heatmap(Heatmap("Atelectasis", hotspot(), 0.04), threshold=0.30)
    view.set_overlay_visible(False)
    assert view.heat_caption() == ""
    view.set_overlay_visible(True)
    assert view.heat_caption().startswith("Grad-CAM: Atelectasis")
    view.set_image(XRayImage(np.zeros((64, 64), np.float32), ImageMeta(path=Path("b.png"), study_uid="2")))
    assert view.heat_caption() == ""


def test_main_window_gives_the_map_its_findings_threshold(qtbot, window) -> None:
    from test_main_window import open_and_score, wait_image
    from viewer_fakes import LABELS

    open_and_score(qtbot, window, "3")
    window.worklist.select_row(0)
    wait_image(qtbot, window)
    view = window.image_view

    def show(index: int) -> float:
        window.display.select_finding(index)
        qtbot.waitUntil(lambda: getattr(view.heatmap(), "label", "") == LABELS[index], timeout=5000)
        return view.heatmap().probability

    p = show(0)
    window.findings.thresholdsEdited.emit({LABELS[0]: (1 + p) / 2})  # as moving its slider does
    assert view.faint() and f"(below threshold {(1 + p) / 2:.2f})" in view.heat_caption()
    window.findings.thresholdsEdited.emit({LABELS[0]: p / 2})
    assert not view.faint()
    window.findings.thresholdsEdited.emit({LABELS[0]: (1 + p) / 2})
    show(1)
    show(0)  # a map shown again takes its finding's threshold with it
    assert view.faint()
    window.actions_.heat_full_strength.setChecked(True)
    assert not view.faint() and view.heat_caption().startswith(f"Grad-CAM: {LABELS[0]}")
