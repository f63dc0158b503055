"""export_view: PNG as shown, annotation band, overlay/inversion/opacity, patient ID, file naming."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtGui import QImage

from inference.api import Heatmap, ImageMeta, XRayImage
from viewer.qt.export import NOT_FOR_DIAGNOSIS, ExportInfo, band_lines, export_view
from viewer.qt.image_view import ImageView, render_rgb

H, W = 120, 160


def pixels() -> np.ndarray:
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    return ((xx / W) * 0.7 + (yy / H) * 0.3).astype(np.float32)


def heat() -> np.ndarray:
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    return np.exp(-((xx - 100) ** 2 + (yy - 60) ** 2) / 800).astype(np.float32)


def info(patient_id: str | None = None) -> ExportInfo:
    return ExportInfo(
        finding="Effusion",
        probability=0.83,
        threshold=0.41,
        model_name="cxr-demo-densenet121",
        weights_sha256="0123456789abcdef" * 4,
        patient_id=patient_id,
        timestamp="2026-11-22 03:30",
        cam_method="Grad-CAM (Captum LayerGradCam, features.norm5)",
    )


@pytest.fixture
def view(qtbot) -> ImageView:
    v = ImageView()
    qtbot.addWidget(v)
    meta = ImageMeta(path=Path("x.dcm"), study_uid="1.2", patient_id="PID-4711", patient_name="DOE^JANE")
    v.set_image(XRayImage(pixels(), meta))
    v.set_heatmap(Heatmap("Effusion", heat(), 0.83))
    return v


def read_rgb(path: Path) -> np.ndarray:
    q = QImage(str(path)).convertToFormat(QImage.Format.Format_RGB888)
    a = np.frombuffer(q.constBits(), np.uint8).reshape(q.height(), q.bytesPerLine())
    return a[:, : 3 * q.width()].reshape(q.height(), q.width(), 3).copy()


def test_png_matches_view_and_has_band(view: ImageView, tmp_path: Path) -> None:
    view.set_overlay_visible(False)
    view.set_window(0.4, 0.6)
    path = export_view(view, info(), tmp_path / "exports" / "nested")
    assert path.exists() and path.parent == tmp_path / "exports" / "nested"
    rgb = read_rgb(path)
    assert rgb.shape[1] == W and rgb.shape[0] > H + 40  # image plus band
    np.testing.assert_array_equal(rgb[:H], render_rgb(pixels(), view.levels(), False))
    band = rgb[H:]
    assert (band.max(axis=2) > 200).sum() > 50  # legible white text
    amber = (band[:, :, 0] > 200) & (band[:, :, 2] < 80)
    assert amber.sum() > 20  # the disclaimer line
    lines = band_lines(info(), view, overlay_drawn=False)
    assert lines[-1] == NOT_FOR_DIAGNOSIS
    assert "0.830" in lines[0] and "0.410" in lines[0] and "POSITIVE" in lines[0]
    assert "0123456789ab " in lines[1] + " " and "0123456789abc" not in lines[1]
    assert "overlay off" in lines[1]


def test_overlay_changes_export(view: ImageView, tmp_path: Path) -> None:
    with_overlay = read_rgb(export_view(view, info(), tmp_path))
    view.set_overlay_visible(False)
    without = read_rgb(export_view(view, info(), tmp_path))
    assert np.abs(with_overlay[:H].astype(int) - without[:H]).sum() > 1000
    hot = with_overlay[60, 100]
    assert hot[0] > hot[2] + 20  # inferno hot spot is warm, not grey
    np.testing.assert_array_equal(without[5, 5], [without[5, 5, 0]] * 3)


def test_opacity_slider_changes_export(view: ImageView, tmp_path: Path) -> None:
    view._opacity.setValue(20)
    faint = read_rgb(export_view(view, info(), tmp_path))
    view._opacity.setValue(90)
    strong = read_rgb(export_view(view, info(), tmp_path))
    assert np.abs(faint[:H].astype(int) - strong[:H]).sum() > 1000
    grey = render_rgb(pixels(), view.levels(), False)
    assert np.abs(strong[:H].astype(int) - grey).sum() > np.abs(faint[:H].astype(int) - grey).sum()


def test_inversion_changes_export(view: ImageView, tmp_path: Path) -> None:
    view.set_overlay_visible(False)
    normal = read_rgb(export_view(view, info(), tmp_path))
    view.set_inverted(True)
    inverted = read_rgb(export_view(view, info(), tmp_path))
    np.testing.assert_array_equal(inverted[:H], 255 - normal[:H])


def test_patient_id_only_when_allowed(view: ImageView, tmp_path: Path) -> None:
    anonymous = export_view(view, info(None), tmp_path)
    named = export_view(view, info("PID-4711"), tmp_path)
    assert not np.array_equal(read_rgb(anonymous)[H:], read_rgb(named)[H:])
    assert "PID-4711" not in QImage(str(anonymous)).text("Description")
    assert "Patient ID: PID-4711" in QImage(str(named)).text("Description")
    for p in (anonymous, named):  # names carry no patient data
        assert re.fullmatch(r"cxr-\d{8}-\d{6}-[0-9a-f]{8}\.png", p.name)
        assert "4711" not in p.name and "DOE" not in p.name


def test_unique_names_and_no_partial_files(view: ImageView, tmp_path: Path) -> None:
    paths = {export_view(view, info(), tmp_path) for _ in range(3)}
    assert len(paths) == 3
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".png"] * 3


def test_large_image_is_capped(qtbot, tmp_path: Path) -> None:
    v = ImageView()
    qtbot.addWidget(v)
    v.set_image(XRayImage(np.zeros((2000, 1500), np.float32), ImageMeta(path=Path("x"), study_uid="1")))
    rgb = read_rgb(export_view(v, info(), tmp_path))
    assert rgb.shape[1] == 768  # 1024 on the long side, aspect kept; band below


def test_nothing_to_export(qtbot, tmp_path: Path) -> None:
    v = ImageView()
    qtbot.addWidget(v)
    v.set_image(None, "Unreadable file")
    with pytest.raises(ValueError):
        export_view(v, info(), tmp_path)
