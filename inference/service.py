"""The model service: one loaded package on one device, answering in numpy and dataclasses.

This is the only object the viewer and the CLI use to run a model. It is not thread-safe: keep it
owned by a single worker thread.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from inference import preprocess
from inference.api import Heatmap, ModelCard, Prediction, PreparedImage, Preprocessing, Task, XRayImage
from inference.device import reduced_precision_candidate, select_device
from inference.explain import grad_cam
from inference.models.densenet import CheXDenseNet
from inference.models.package import load_package
from inference.options import PRECISIONS, TTA_MODES

log = logging.getLogger(__name__)

PARITY_TOLERANCE = 0.02  # max |p_reduced - p_fp32| on the first batch before reduced precision is used


class ModelService:
    """Batched prediction and Grad-CAM for one model package."""

    def __init__(
        self,
        card: ModelCard,
        model: CheXDenseNet,
        device: str = "auto",
        tta: str = "none",
        precision: str = "auto",
    ) -> None:
        if tta not in TTA_MODES:
            raise ValueError(f"unknown TTA mode {tta!r}; choose one of {', '.join(TTA_MODES)}")
        if tta == "tencrop" and card.preprocessing is not Preprocessing.CHEXNET:
            raise ValueError("ten-crop TTA belongs to the CheXNet preprocessing convention")
        self._card = card
        self._device = select_device(device)
        self._model = model.to(self._device).to(memory_format=torch.channels_last).eval()
        self._tta = tta
        self._shown = [i for i, lab in enumerate(card.labels) if lab.trained]
        if precision not in PRECISIONS:
            raise ValueError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
        self._reduced = reduced_precision_candidate(self._device) if precision == "auto" else None
        self._dtype: torch.dtype | None = None  # decided by the parity check on the first batch

    @property
    def card(self) -> ModelCard:
        return self._card

    @property
    def device(self) -> str:
        return self._device.type

    @property
    def precision(self) -> str:
        return {None: "fp32 (pending parity check)", torch.float32: "fp32", torch.bfloat16: "bf16"}[
            self._dtype
        ]

    def prepare(self, image: XRayImage) -> PreparedImage:
        """Network input of ``image`` (ten crops with ten-crop TTA); pure numpy, any thread."""
        if self._tta == "tencrop":
            inputs = preprocess.chexnet_tencrop(image.pixels, self._card.input_size)
        else:
            inputs = preprocess.prepare(image.pixels, self._card.preprocessing, self._card.input_size)[None]
        return PreparedImage(meta=image.meta, inputs=inputs, warnings=image.warnings)

    def _scores(self, logits: torch.Tensor) -> torch.Tensor:
        logits = logits.float()
        return logits.softmax(dim=1) if self._card.task is Task.MULTICLASS else logits.sigmoid()

    def _forward(self, batch: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """Scores and pooled features (fp32) of one forward pass."""
        reduced = dtype != torch.float32
        autocast = torch.autocast(self._device.type, dtype=dtype) if reduced else contextlib.nullcontext()
        with torch.inference_mode(), autocast:
            logits, pooled = self._model.forward_with_embedding(batch)
            return self._scores(logits), pooled.float()

    def _decide_precision(self, batch: torch.Tensor, fp32_scores: torch.Tensor) -> None:
        self._dtype = torch.float32
        if self._reduced is None:
            return
        gap = (self._forward(batch, self._reduced)[0] - fp32_scores).abs().max().item()
        if gap <= PARITY_TOLERANCE:
            self._dtype = self._reduced
        log.info("reduced-precision parity gap %.4f -> using %s", gap, self.precision)

    def predict(self, images: Sequence[XRayImage | PreparedImage]) -> list[Prediction]:
        """Scores of each image for the card's shown labels, and its embedding (pooled norm5 features,
        averaged over crops, L2-normalised), from one forward pass for the whole batch."""
        if not images:
            return []
        prepared = [im if isinstance(im, PreparedImage) else self.prepare(im) for im in images]
        batch = torch.from_numpy(np.concatenate([im.inputs for im in prepared])).to(self._device)
        batch = batch.contiguous(memory_format=torch.channels_last)
        if self._dtype is None:
            scores, pooled = self._forward(batch, torch.float32)
            self._decide_precision(batch, scores)
        else:
            scores, pooled = self._forward(batch, self._dtype)
        per_image = _per_image(scores, len(images)).cpu().numpy()
        embeddings = F.normalize(_per_image(pooled, len(images)), dim=1).cpu().numpy()
        labels = self._card.labels
        return [
            Prediction(
                path=image.meta.path,
                probabilities={labels[i].name: float(row[i]) for i in self._shown},
                weights_sha256=self._card.weights_sha256,
                embedding=embedding,
            )
            for image, row, embedding in zip(images, per_image, embeddings, strict=True)
        ]

    def explain(self, image: XRayImage, label: str) -> Heatmap:
        """Grad-CAM of ``label`` for ``image`` (always fp32), resized to the image."""
        index = [lab.name for lab in self._card.labels].index(label)
        inputs = preprocess.prepare(image.pixels, self._card.preprocessing, self._card.input_size)
        cam, logit = grad_cam(self._model, torch.from_numpy(inputs[None]).to(self._device), index)
        probability = float(self._scores(logit[None])[0, index])
        values = _cam_to_image(cam, image.pixels.shape, self._card)
        return Heatmap(label=label, values=values, probability=probability)


def _per_image(rows: torch.Tensor, images: int) -> torch.Tensor:
    """Rows of a batch (one per crop) averaged per image: ten-crop TTA gives ten rows per image."""
    return rows.reshape(images, -1, rows.shape[1]).mean(dim=1)


def _cam_to_image(cam: np.ndarray, shape: tuple[int, ...], card: ModelCard) -> np.ndarray:
    """Place the network-input CAM back over the full image, undoing the centre crop."""
    h, w = shape
    size = card.input_size
    if card.preprocessing is Preprocessing.XRV:
        side = min(h, w)  # centre square, resized to input
        square = cv2.resize(cam, (side, side), interpolation=cv2.INTER_LINEAR)
        out = np.zeros((h, w), np.float32)
        top, left = (h - side) // 2, (w - side) // 2
        out[top : top + side, left : left + side] = square
        return out
    short = round(size * 256 / 224)  # chexnet: shorter side -> short, then centre crop `size`
    scale = min(h, w) / short
    rh, rw = (short, round(w / scale)) if h <= w else (round(h / scale), short)
    resized = np.zeros((rh, rw), np.float32)
    top, left = (rh - size) // 2, (rw - size) // 2
    resized[top : top + size, left : left + size] = cv2.resize(
        cam, (size, size), interpolation=cv2.INTER_LINEAR
    )
    return cv2.resize(resized, (w, h), interpolation=cv2.INTER_LINEAR)


def load_service(
    package: Path, device: str = "auto", tta: str = "none", precision: str = "auto"
) -> ModelService:
    """Load a model package (weights checked against the card's sha256) onto a device."""
    card, model = load_package(Path(package))
    return ModelService(card, model, device=device, tta=tta, precision=precision)
