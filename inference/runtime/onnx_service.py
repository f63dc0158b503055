"""The model service on ONNX Runtime and numpy: the reading station's runtime on the CPU, no torch.

Scores and pooled features come from the package's ONNX export; every finding's heat map from its
feature-map output and the classifier weights (:func:`inference.runtime.gradcam.closed_form_cams`), always
from the fp32 export; with ``precision="int8"``, scoring runs the quantized export where it agrees with
the fp32 one on the parity probe (:mod:`inference.runtime.backends.int8`).
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

import numpy as np
from safetensors import SafetensorError, safe_open

from inference.api import ModelCard
from inference.gate import load_gate
from inference.models.card import WEIGHTS, checked_weights, invalid
from inference.runtime.backends.int8 import int8_runner
from inference.runtime.backends.onnx import OnnxRunner, cpu_threads
from inference.runtime.backends.probe import probe_inputs
from inference.runtime.gradcam import closed_form_cams
from inference.runtime.model_service import Cams, ModelService
from inference.runtime.network_input import prepare_image

log = logging.getLogger(__name__)

RUNTIME = "ONNX Runtime fp32"  # what makes the heat maps, in words


class OnnxService(ModelService):
    """Scores, embeddings and heat maps of one package's ONNX export (see the module doc)."""

    backend = "onnx"

    def __init__(
        self, card: ModelCard, runner: OnnxRunner, classifier: np.ndarray, tta: str, package: Path | None
    ) -> None:
        """``runner`` runs the fp32 export; ``classifier`` is its classifier's weights (L×C)."""
        gate = load_gate(package, card) if package is not None else None
        super().__init__(card, tta, gate)
        self._fp32 = self._scoring = runner
        self._classifier = classifier

    @classmethod
    def open(
        cls, package: Path, card: ModelCard, export: Path, tta: str = "none", precision: str = "fp32"
    ) -> OnnxService:
        """The service of ``package`` scoring with ``export`` (fp32; int8 where asked and it agrees)."""
        runner = OnnxRunner(export, cpu_threads())
        service = cls(card, runner, classifier_weights(package, card), tta, package)
        if precision == "int8":
            service._use_int8()
        log.info("scoring with onnx %s (%s)", service.precision, service._scoring.path)
        return service

    def _use_int8(self) -> None:
        probe = probe_inputs(self._card)
        reference = self._scores(self._fp32.forward(probe)[0])
        calibration = functools.partial(prepare_image, service=self)
        sha256 = self._card.weights_sha256
        int8 = int8_runner(self._fp32, sha256, calibration, probe, reference, self._scores)
        self._scoring = int8 or self._fp32

    @property
    def precision(self) -> str:
        return self._scoring.precision

    def _run(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        logits, pooled = self._scoring.forward(batch)
        return self._scores(logits), pooled

    def _cams(self, inputs: np.ndarray) -> Cams:
        logits, features = self._fp32.forward_features(inputs)
        return Cams(closed_form_cams(features[0], self._classifier), logits[0], RUNTIME)


def classifier_weights(package: Path, card: ModelCard) -> np.ndarray:
    """The classifier's weights (L×C, fp32) from the package's weights, after checking their sha256
    against the card (a PackageError says what is wrong)."""
    path = checked_weights(package, card)
    try:
        with safe_open(str(path), framework="np") as weights:
            weight = np.asarray(weights.get_tensor("classifier.weight"), np.float32)
    except (SafetensorError, OSError, KeyError, TypeError) as exc:
        raise invalid(package, [f"{WEIGHTS}: the classifier's weights cannot be read ({exc})"]) from exc
    if weight.ndim != 2 or weight.shape[0] != len(card.labels):
        problem = f"classifier.weight {weight.shape} does not fit {len(card.labels)} labels"
        raise invalid(package, [f"{WEIGHTS}: {problem}"])
    return weight
