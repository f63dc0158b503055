"""Label sets of the checkpoints we meet, and the explicit name table between them.

Outputs are always mapped by name through :data:`CANONICAL`, never by position.
"""

from __future__ import annotations

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


def canonical(name: str) -> str:
    """The project's spelling of a finding name (unknown names pass through unchanged)."""
    return CANONICAL.get(name, name)
