"""The parity probe: fixed network inputs on which every candidate runtime and precision is compared with
torch fp32 when a model is loaded.

Two bundled sample radiographs (a PNG and a DICOM) read through the product's own path. Being fixed,
the comparison, and so the runtime and precision chosen, is the same for every run on a machine,
whatever images it scores first.
"""

from __future__ import annotations

import numpy as np

from inference.api import ModelCard
from inference.bundled import SAMPLES
from inference.runtime.network_input import read_for_network
from inference.runtime.preprocess import prepare

PROBE_IMAGES = ("00000001_000.png", "DX_chest_NIH_google_1024_8bit.dcm")


def probe_inputs(card: ModelCard) -> np.ndarray:
    """The probe batch (N, C, S, S) of the model of ``card``: one centre crop per image."""
    images = [read_for_network(SAMPLES / name, card.preprocessing, card.input_size) for name in PROBE_IMAGES]
    return np.stack([prepare(image.pixels, card.preprocessing, card.input_size) for image in images])
