"""The viewer's annotated export: the one headless renderer, unique names (patient-free when identifiers
are hidden), no patient in the image."""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
from viewer_fakes import make_card

from inference.api import Heatmap, ImageMeta, RankedStudy, Status, StudyResult, XRayImage
from inference.io.marker import is_marked
from viewer.core.image_export import export_path, write_annotated

H, W = 120, 160
PATIENT = "PID-4711"


def image() -> XRayImage:
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    pixels = ((xx / W) * 0.7 + (yy / H) * 0.3).astype(np.float32)
    meta = ImageMeta(path=Path("DOE_JANE.dcm"), study_uid="1.2", patient_id=PATIENT, patient_name="DOE^JANE")
    return XRayImage(pixels, meta)


def heat() -> Heatmap:
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    return Heatmap("Effusion", np.exp(-((xx - 100) ** 2 + (yy - 60) ** 2) / 800).astype(np.float32), 0.83)


def study() -> RankedStudy:
    im = image()
    probs = {"Atelectasis": 0.1, "Cardiomegaly": 0.2, "Effusion": 0.83, "Pneumothorax": 0.05}
    return RankedStudy(
        1, StudyResult("1.2", im.meta, Status.SCORED, "", probs), ("Effusion",), 1.9, "Effusion", 0.83
    )


def export(folder: Path, heatmap: Heatmap | None) -> Path:
    card = make_card()
    path = export_path(study(), heatmap, folder, deidentify=True)
    return write_annotated(image(), heatmap, study(), card, card.thresholds(), path)


def test_export_draws_the_heatmap_and_names_files_without_patient_data(tmp_path: Path) -> None:
    with_heat = export(tmp_path / "nested", heat())
    without = export(tmp_path / "nested", None)
    assert with_heat.parent == tmp_path / "nested" and with_heat != without
    a, b = cv2.imread(str(with_heat)), cv2.imread(str(without))
    # image, colour bar (only with a heat map), text panel
    assert a.shape[1] == b.shape[1] == W and a.shape[0] > b.shape[0] > H
    assert np.abs(a[:H].astype(int) - b[:H]).sum() > 1000
    for path in (with_heat, without):
        assert re.fullmatch(r"study-[0-9a-f]{12}_Effusion(_2)?\.png", path.name)
        data = path.read_bytes()
        assert PATIENT.encode() not in data and b"DOE" not in data
        assert is_marked(data)  # a later scan of the export folder skips it
