"""The model service, whatever runs the network: batching, embeddings, and every finding's heat map
placed over the image shown, kept for the last input. A runtime (:mod:`inference.runtime.onnx_service`,
:mod:`inference.runtime.torch_service`) gives the scores and feature maps;
:func:`inference.runtime.service.load_service`
chooses it. Not thread-safe: keep a service owned by a single worker thread.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from inference.api import Heatmap, ModelCard, Prediction, PreparedImage, Preprocessing, SafetyGate, XRayImage
from inference.runtime import preprocess
from inference.runtime.gradcam import cam_method, place_cam
from inference.runtime.options import TTA_MODES
from inference.runtime.probabilities import probabilities


class Cams(NamedTuple):
    """Every output's low-resolution heat map of one network input, and what computed them."""

    maps: np.ndarray  # L×h×w
    logits: np.ndarray  # L
    runtime: str  # what ran the network, in words: "ONNX Runtime fp32", "torch fp32"


class ModelService:
    """Batched prediction and Grad-CAM for one model package; a runtime gives :meth:`_run` (scores and
    pooled features of a batch) and :meth:`_cams` (every finding's map of one input)."""

    backend = ""  # the runtime that scores: onnx (ONNX Runtime, CPU) or torch
    closed_form = True  # heat maps by :func:`inference.runtime.gradcam.closed_form_cams`, else Captum's

    def __init__(self, card: ModelCard, tta: str, gate: SafetyGate | None) -> None:
        if tta not in TTA_MODES:
            raise ValueError(f"unknown TTA mode {tta!r}; choose one of {', '.join(TTA_MODES)}")
        if tta == "tencrop" and card.preprocessing is not Preprocessing.CHEXNET:
            raise ValueError("ten-crop TTA belongs to the CheXNet preprocessing convention")
        self._card = card
        self._tta = tta
        self._shown = [i for i, lab in enumerate(card.labels) if lab.trained]
        self.gate = gate  # the package's safety gate (sha256-checked); None: every image is scored
        self._last_cams: tuple[bytes, Cams] | None = None  # the last input explained, by digest

    @property
    def card(self) -> ModelCard:
        return self._card

    @property
    def device(self) -> str:
        return "cpu"

    @property
    def precision(self) -> str:
        """What scores: fp32, bf16 or int8 (a result is reused only for a request of the same)."""
        return "fp32"

    def _run(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Scores (N×L) and pooled features (N×C, fp32) of a batch of network inputs."""
        raise NotImplementedError

    def _cams(self, inputs: np.ndarray) -> Cams:
        """Every output's map and the logits of one network input (1×C×S×S), in fp32."""
        raise NotImplementedError

    def _scores(self, logits: np.ndarray) -> np.ndarray:
        return probabilities(logits, self._card.task)

    def prepare(self, image: XRayImage) -> PreparedImage:
        """Network input of ``image`` (ten crops with ten-crop TTA); pure numpy, any thread."""
        card = self._card
        if self._tta == "tencrop":
            inputs = preprocess.chexnet_tencrop(image.pixels, card.input_size)
        else:
            inputs = preprocess.prepare(image.pixels, card.preprocessing, card.input_size)[None]
        box = preprocess.crop_box(image.pixels.shape, card.preprocessing, card.input_size)
        return PreparedImage(meta=image.meta, inputs=inputs, warnings=image.warnings, box=box)

    def predict(self, images: Sequence[XRayImage | PreparedImage]) -> list[Prediction]:
        """Scores of each image for the card's shown labels, and its embedding (pooled features,
        averaged over crops, L2-normalised), from one forward pass for the whole batch."""
        if not images:
            return []
        prepared = [im if isinstance(im, PreparedImage) else self.prepare(im) for im in images]
        scores, pooled = self._run(np.concatenate([im.inputs for im in prepared]))
        per_image = _per_image(scores, len(images))
        pooled = _per_image(pooled, len(images))
        embeddings = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        labels = self._card.labels
        return [
            Prediction(
                path=image.meta.path,
                probabilities={labels[i].name: float(row[i]) for i in self._shown},
                weights_sha256=self._card.weights_sha256,
                embedding=embedding.astype(np.float32),
            )
            for image, row, embedding in zip(images, per_image, embeddings, strict=True)
        ]

    def explain(
        self, image: XRayImage | PreparedImage, label: str, shape: tuple[int, int] | None = None
    ) -> Heatmap:
        """Grad-CAM of ``label`` for the network input ``image`` (always fp32), placed over the part of
        an image of ``shape`` (the image shown, at any resolution; default: an XRayImage's own) that the
        input covers, smoothed and faded to zero at the crop border, zero elsewhere. With ten-crop TTA,
        of the centre crop.

        The product passes what scoring prepared from the file (the engine, through
        :func:`inference.runtime.network_input.prepare_image`), so the map and its probability are those of
        the
        input that was scored; an XRayImage is prepared as it is. Every output's map comes from one
        pass, kept for the last input: another finding of the same image costs no pass at all.
        """
        if isinstance(image, XRayImage):
            shape = shape or (image.pixels.shape[0], image.pixels.shape[1])
            image = self.prepare(image)
        if shape is None:
            raise ValueError("the shape of the image shown is needed to place a prepared input's heat map")
        index = [lab.name for lab in self._card.labels].index(label)
        crop = image.inputs[preprocess.TENCROP_CENTRE if self._tta == "tencrop" else 0]
        cams = self._cams_of(np.ascontiguousarray(crop, np.float32)[None])
        probability = float(self._scores(cams.logits[None])[0, index])
        values = place_cam(cams.maps[index], shape, image.box)
        method = cam_method(self.closed_form, cams.runtime)
        return Heatmap(label=label, values=values, probability=probability, method=method)

    def _cams_of(self, inputs: np.ndarray) -> Cams:
        digest = hashlib.blake2b(inputs.tobytes(), digest_size=16).digest()
        if self._last_cams is None or self._last_cams[0] != digest:
            self._last_cams = (digest, self._cams(inputs))
        return self._last_cams[1]


def _per_image(rows: np.ndarray, images: int) -> np.ndarray:
    """Rows of a batch (one per crop) averaged per image: ten-crop TTA gives ten rows per image."""
    rows = np.asarray(rows, np.float32)
    return rows.reshape(images, -1, rows.shape[1]).mean(axis=1)
