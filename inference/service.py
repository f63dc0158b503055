"""The model service: one loaded package on one device, answering in numpy and dataclasses.

This is the only object the viewer and the CLI use to run a model. It is not thread-safe: keep it
owned by a single worker thread.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from inference import preprocess
from inference.api import Heatmap, ModelCard, Prediction, PreparedImage, Preprocessing, Task, XRayImage
from inference.backends.int8 import check_int8, int8_runner
from inference.backends.onnx import OnnxRunner, parity_runner, wants_onnx
from inference.device import reduced_precision_candidate, select_device
from inference.explain import (
    ONNX_RUNTIME,
    TORCH,
    cam_method,
    captum_cams,
    checked_cam_runner,
    forward_cams,
    has_closed_form,
    onnx_cams,
)
from inference.gate import Gate, load_gate
from inference.models.architectures import ChestNet
from inference.models.densenet import CheXDenseNet
from inference.models.package import load_package
from inference.options import BACKENDS, PRECISIONS, TTA_MODES
from inference.overlay import smooth_map

log = logging.getLogger(__name__)

PARITY_TOLERANCE = 0.02  # max |p_reduced - p_fp32| on the first batch before reduced precision is used


class _Cams(NamedTuple):
    """Every output's low-resolution heat map of the last image explained."""

    digest: bytes  # of the network input
    maps: torch.Tensor  # L×h×w
    logits: torch.Tensor  # L
    runtime: str  # what ran the network: explain.TORCH or explain.ONNX_RUNTIME


class ModelService:
    """Batched prediction and Grad-CAM for one model package."""

    def __init__(
        self,
        card: ModelCard,
        model: ChestNet,
        device: str = "auto",
        tta: str = "none",
        precision: str = "auto",
        backend: str = "auto",
        package: Path | None = None,
    ) -> None:
        """``package`` is the folder the weights came from: the ONNX export is cached there."""
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
        self._int8 = precision == "int8"  # asked for: used when it passes its parity check
        self._dtype: torch.dtype | None = None  # decided by the parity check on the first batch
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
        if self._int8:
            check_int8(backend, self._device)
            backend = "onnx"
        onnx_runs = wants_onnx(backend, self._device, card.architecture)
        # auto leaves bf16 hardware to torch's bf16, twice as fast there as ONNX Runtime's fp32
        self._try_onnx = onnx_runs and (backend == "onnx" or self._reduced is None)
        # heat maps are fp32 whatever scores, and ONNX Runtime's fp32 pass is faster than torch's (issue 10)
        self._cam_onnx_pending = onnx_runs and has_closed_form(model)  # until the first explain checks it
        self._cam_onnx: OnnxRunner | None = None  # the runner it checked, None: torch
        self._package = package
        # The package's safety gate (sha256-checked); None without a package: every image is scored.
        self.gate: Gate | None = load_gate(package, card) if package is not None else None
        self._onnx: OnnxRunner | None = None  # set by the parity check on the first batch

    @property
    def card(self) -> ModelCard:
        return self._card

    @property
    def device(self) -> str:
        return self._device.type

    @property
    def precision(self) -> str:
        if self._dtype is None:
            return f"{'int8' if self._int8 else 'fp32'} (pending parity check)"
        if self._onnx is not None:
            return self._onnx.precision
        return {torch.float32: "fp32", torch.bfloat16: "bf16"}[self._dtype]

    @property
    def backend(self) -> str:
        """The runtime that scores: onnx (ONNX Runtime, CPU) or torch."""
        if self._onnx is not None:
            return "onnx"
        return "onnx (pending parity check)" if self._try_onnx and self._dtype is None else "torch"

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

    def _run(self, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Scores and pooled features of ``batch`` on the backend the first batch settled on."""
        if self._onnx is None:
            return self._forward(batch, self._dtype or torch.float32)
        logits, pooled = self._onnx.forward(batch.numpy())
        return self._scores(torch.from_numpy(logits)), torch.from_numpy(pooled)

    def _decide_precision(self, batch: torch.Tensor, fp32_scores: torch.Tensor) -> None:
        """Backend and precision of the later batches, from the first batch's fp32 torch scores."""
        self._dtype = torch.float32
        if self._try_onnx:
            self._onnx = parity_runner(
                self._model, self._package, self._card.weights_sha256, batch, fp32_scores, self._scores
            )
        if self._int8 and self._onnx is not None:
            quantized = int8_runner(self._onnx, self._package, self.prepare, batch, fp32_scores, self._scores)
            self._onnx = quantized or self._onnx
        if self._reduced is None or self._onnx is not None:
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
            scores, pooled = self._run(batch)
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

    _cams: _Cams | None = None
    _cams_of: XRayImage | None = None  # the image object ``_cams`` was last looked up for

    def explain(self, image: XRayImage, label: str) -> Heatmap:
        """Grad-CAM of ``label`` for ``image`` (always fp32) over the crop the network saw, smoothed and
        faded to zero at the crop border, zero elsewhere; same shape as the image.

        Every output's map comes from one forward pass with no backward pass (:func:`forward_cams`,
        equal to Captum's LayerGradCam; other architectures: Captum's LayerGradCam itself), kept for
        the last image: another finding of the same image costs no pass at all. On the CPU that pass
        runs on ONNX Runtime fp32 unless the backend is torch or the export's maps differ from torch's
        (:meth:`_cam_runner`).
        """
        index = [lab.name for lab in self._card.labels].index(label)
        cams = self._forward_cams(image)
        probability = float(self._scores(cams.logits[None])[0, index])
        values = _cam_to_image(cams.maps[index].cpu().numpy(), image.pixels.shape, self._card)
        method = cam_method(self._model, cams.runtime)
        return Heatmap(label=label, values=values, probability=probability, method=method)

    def _forward_cams(self, image: XRayImage) -> _Cams:
        """Every output's low-resolution map and the logits of ``image``, from the cache when it is the
        image last explained (the same object: not even its network input is prepared again) or its
        network input is."""
        if self._cams is not None and image is self._cams_of:
            return self._cams
        self._cams_of = image
        inputs = preprocess.prepare(image.pixels, self._card.preprocessing, self._card.input_size)
        digest = hashlib.blake2b(inputs.tobytes(), digest_size=16).digest()
        if self._cams is None or self._cams.digest != digest:
            x = torch.from_numpy(inputs[None]).to(self._device)
            model = self._model
            if not has_closed_form(model):
                self._cams = _Cams(digest, *captum_cams(model, x), TORCH)
            elif (runner := self._cam_runner(model, x)) is not None:
                self._cams = _Cams(digest, *onnx_cams(runner, model, x), ONNX_RUNTIME)
            else:
                self._cams = _Cams(digest, *forward_cams(model, x), TORCH)
        return self._cams

    def _cam_runner(self, model: CheXDenseNet, x: torch.Tensor) -> OnnxRunner | None:
        """The fp32 ONNX Runtime runner of the heat maps, None for torch: the scoring runner when it is
        fp32, else one opened on the first explain and kept only if its maps of that image (``x``)
        agree with torch's. Never the int8 runner."""
        if self._onnx is not None and self._onnx.precision == "fp32":
            return self._onnx
        if self._cam_onnx_pending:
            self._cam_onnx_pending = False
            sha256 = self._card.weights_sha256
            self._cam_onnx = checked_cam_runner(model, self._package, sha256, x, self._scores)
        return self._cam_onnx


def _per_image(rows: torch.Tensor, images: int) -> torch.Tensor:
    """Rows of a batch (one per crop) averaged per image: ten-crop TTA gives ten rows per image."""
    return rows.reshape(images, -1, rows.shape[1]).mean(dim=1)


def _cam_to_image(cam: np.ndarray, shape: tuple[int, ...], card: ModelCard) -> np.ndarray:
    """The low-resolution CAM over the part of the full image the network saw, zero elsewhere."""
    out = np.zeros(shape, np.float32)
    top, left, height, width = _crop_box(shape, card)
    out[top : top + height, left : left + width] = smooth_map(cam, height, width)
    return out


def _crop_box(shape: tuple[int, ...], card: ModelCard) -> tuple[int, int, int, int]:
    """(top, left, height, width) in image pixels of the square the network input covers."""
    h, w = shape
    if card.preprocessing is Preprocessing.XRV:
        side = min(h, w)  # centre square, resized to input
        return (h - side) // 2, (w - side) // 2, side, side
    size = card.input_size
    short = round(size * 256 / 224)  # chexnet: shorter side -> short, then centre crop `size`
    scale = min(h, w) / short
    rh, rw = (short, round(w / scale)) if h <= w else (round(h / scale), short)
    top, left = round((rh - size) // 2 * h / rh), round((rw - size) // 2 * w / rw)
    return top, left, max(1, round(size * h / rh)), max(1, round(size * w / rw))


def load_service(
    package: Path, device: str = "auto", tta: str = "none", precision: str = "auto", backend: str = "auto"
) -> ModelService:
    """Load a model package (weights checked against the card's sha256) onto a device."""
    package = Path(package)
    card, model = load_package(package)
    return ModelService(
        card, model, device=device, tta=tta, precision=precision, backend=backend, package=package
    )
