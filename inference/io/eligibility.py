"""Decide from header facts alone whether an image is something the model may score."""

from __future__ import annotations

from inference.api import ImageMeta, Status

TRAINED_ON = "the model was trained on frontal (PA/AP) chest radiographs only"

# CR and DX are the radiograph modalities of DICOM; RG is conventional film/screen radiography and "DR"
# is not a DICOM term but some vendors write it. An empty Modality (non-conformant) is given the benefit.
RADIOGRAPH_MODALITIES = frozenset({"CR", "DX", "DR", "RG", ""})
CHEST_WORDS = ("CHEST", "THORAX", "LUNG", "TORAX", "THORAC")
# ViewPosition defined terms (PS3.3 C.8.11.5): AP, PA, LL, RL, RLD, LLD, RLO, LLO. Decubitus and oblique
# views are also outside the training data of frontal-chest models.
NON_FRONTAL_VIEWS = frozenset({"LL", "RL", "LAT", "LATERAL", "LLD", "RLD", "LLO", "RLO", "OBLIQUE", "XTABLE"})


def eligibility(meta: ImageMeta) -> tuple[Status, str]:
    """``(SCORED, "")`` when nothing in the header rules the image out, else ``(NOT_SCORED, reason)``."""
    modality = meta.modality.upper()
    if modality not in RADIOGRAPH_MODALITIES:
        return Status.NOT_SCORED, f"modality {modality} is not a radiograph (CR/DX); {TRAINED_ON}"
    body = meta.body_part.upper().strip()
    if body and not any(word in body for word in CHEST_WORDS):
        return Status.NOT_SCORED, f"body part {body} is not the chest; {TRAINED_ON}"
    if is_non_frontal(meta.view_position):
        return Status.NOT_SCORED, f"view {meta.view_position} is not frontal; {TRAINED_ON}"
    return Status.SCORED, ""


def is_non_frontal(view: str) -> bool:
    """True for lateral, decubitus and oblique view positions (also coded meanings like 'left lateral')."""
    view = view.upper().strip()
    if not view:
        return False
    if view in NON_FRONTAL_VIEWS:
        return True
    return any(word in view for word in ("LATERAL", "DECUBITUS", "OBLIQUE"))
