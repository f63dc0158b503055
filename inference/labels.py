"""Label sets of the checkpoints we meet, the explicit name table between them, and the coded
concept that names each finding in a DICOM SR.

Outputs are always mapped by name through :data:`CANONICAL`, never by position. :data:`CODES` is the
one table of finding codes: training (:func:`inference.fit.train.card.label_cards`) and ``model import``
(:mod:`inference.models.checkpoints`) copy a label's entry into its card, which then holds it, with
its source, and the SR takes it from the card.
"""

from __future__ import annotations

from inference.api import LabelCode

# arnoweng/CheXNet model.py, in output order.
CHESTXRAY14 = (
    "Atelectasis", "Cardiomegaly", "Effusion", "Infiltration", "Mass", "Nodule", "Pneumonia",
    "Pneumothorax", "Consolidation", "Edema", "Emphysema", "Fibrosis", "Pleural_Thickening", "Hernia",
)  # fmt: skip

# torchxrayvision datasets.default_pathologies, in output order.
XRV_DEFAULT = (
    "Atelectasis", "Consolidation", "Infiltration", "Pneumothorax", "Edema", "Emphysema", "Fibrosis",
    "Effusion", "Pneumonia", "Pleural_Thickening", "Cardiomegaly", "Nodule", "Mass", "Hernia",
    "Lung Lesion", "Fracture", "Lung Opacity", "Enlarged Cardiomediastinum",
)  # fmt: skip

# Synonyms from other label sets (CheXpert, MIMIC, PadChest spellings) -> the ChestX-ray14 name.
CANONICAL = {
    "Pleural Effusion": "Effusion",
    "Pleural Thickening": "Pleural_Thickening",
    "Pleural_Thickening": "Pleural_Thickening",
    "Lung Lesion": "Lung Lesion",
    "Enlarged Cardiomediastinum": "Enlarged Cardiomediastinum",
}

# Where a code comes from. A DICOM PS3.16 concept is preferred (pydicom ships PS3.16's context groups,
# so tests/unit/test_card_validation.py checks each against pydicom.sr offline); a SNOMED CT concept
# that PS3.16 does not list comes next; a private code only where no standard concept fits.
PRIVATE_SCHEME = "99CXRTRIAGE"  # a private coding scheme designator begins with "99" (PS3.3 8.2)
SNOMED = "SNOMED CT International (not in DICOM PS3.16's context groups)"
PRIVATE = f"private ({PRIVATE_SCHEME}): no standard concept fits"


def _ps316(cids: str) -> str:
    return f"DICOM PS3.16 {cids}"


def _private(name: str, meaning: str) -> LabelCode:
    return LabelCode(name, PRIVATE_SCHEME, meaning, PRIVATE)


# ChestX-ray14 (and torchxrayvision) finding -> its code, keyed by the canonical name. Why each one:
# - Atelectasis: SCT 46621007; PS3.16 has only plate-like atelectasis (40779009), a kind of it.
# - Cardiomegaly: SCT 8186001; PS3.16's CID 12248 (cardiac ultrasound) uses 287272002 for it, but the
#   same copy of PS3.16 also names 287272002 "Enlarged septal foramen of heart (disorder)": too
#   doubtful to send.
# - Effusion: the NIH label means pleural effusion: SCT 60046008 (PS3.16 CID 8134).
# - Infiltration: DCM 112121 "Infiltrate", PS3.16's chest finding (CID 6102, 6104: abnormal opacity).
# - Mass, Nodule: SCT 4147007, 27925004, PS3.16 CID 6104 (abnormal opacity findings of the chest).
# - Pneumonia: SCT 233604007 (PS3.16 lists no pneumonia concept).
# - Pneumothorax: SCT 36118008, PS3.16 CID 6105 (abnormal lucency findings of the chest).
# - Consolidation: SCT 95436008 "Lung consolidation" (not in PS3.16).
# - Edema: on a chest radiograph, pulmonary edema: SCT 19242006 (PS3.16 CID 3700).
# - Emphysema: SCT 87433001 "Pulmonary emphysema"; PS3.16's only emphysema is mediastinal (16838000,
#   i.e. pneumomediastinum), another finding.
# - Fibrosis: SCT 51615001 "Pulmonary fibrosis"; PS3.16's "Fibrosis" (112674009) is the bare
#   morphology, not the lung disorder the label means.
# - Pleural_Thickening: private: PS3.16 has no pleural thickening.
# - Hernia: the NIH set means hiatal hernia: SCT 84089009 (not in PS3.16).
# - torchxrayvision's extra labels: Lung Opacity is DCM 112001 "Opacity" (PS3.16 CID 6102, 6104);
#   Fracture SCT 125605004 "Fracture of bone" (not in PS3.16); Lung Lesion and Enlarged
#   Cardiomediastinum private (PS3.16's "Lesion" names no organ; no enlarged-cardiomediastinum concept).
CODES: dict[str, LabelCode] = {
    "Atelectasis": LabelCode("46621007", "SCT", "Atelectasis", SNOMED),
    "Cardiomegaly": LabelCode("8186001", "SCT", "Cardiomegaly", SNOMED),
    "Effusion": LabelCode("60046008", "SCT", "Pleural effusion", _ps316("CID 8134")),
    "Infiltration": LabelCode("112121", "DCM", "Infiltrate", _ps316("CID 6102, 6104")),
    "Mass": LabelCode("4147007", "SCT", "Mass", _ps316("CID 6104")),
    "Nodule": LabelCode("27925004", "SCT", "Nodule", _ps316("CID 6104")),
    "Pneumonia": LabelCode("233604007", "SCT", "Pneumonia", SNOMED),
    "Pneumothorax": LabelCode("36118008", "SCT", "Pneumothorax", _ps316("CID 6105")),
    "Consolidation": LabelCode("95436008", "SCT", "Lung consolidation", SNOMED),
    "Edema": LabelCode("19242006", "SCT", "Pulmonary edema", _ps316("CID 3700")),
    "Emphysema": LabelCode("87433001", "SCT", "Pulmonary emphysema", SNOMED),
    "Fibrosis": LabelCode("51615001", "SCT", "Pulmonary fibrosis", SNOMED),
    "Pleural_Thickening": _private("Pleural_Thickening", "Pleural thickening"),
    "Hernia": LabelCode("84089009", "SCT", "Hiatal hernia", SNOMED),
    "Lung Lesion": _private("Lung Lesion", "Lung lesion"),
    "Fracture": LabelCode("125605004", "SCT", "Fracture of bone", SNOMED),
    "Lung Opacity": LabelCode("112001", "DCM", "Opacity", _ps316("CID 6102, 6104")),
    "Enlarged Cardiomediastinum": _private("Enlarged Cardiomediastinum", "Enlarged cardiomediastinum"),
}


def canonical(name: str) -> str:
    """The project's spelling of a finding name (unknown names pass through unchanged)."""
    return CANONICAL.get(name, name)


def label_code(name: str) -> LabelCode | None:
    """The table's code for the finding ``name`` (any spelling :data:`CANONICAL` knows), or None for a
    label the table does not know (a site's own label set): its SR then names it with a private code."""
    return CODES.get(canonical(name))


def private_code(name: str) -> LabelCode:
    """The private code of a label without one: its name, so the same label always gets the same code."""
    return _private(name, name.replace("_", " "))
