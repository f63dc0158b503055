"""The model service: one loaded package on one device, answering in numpy and dataclasses.

This is the only object the viewer and the CLI use to run a model. It is not thread-safe: keep it
owned by a single worker thread.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from inference import preprocess
from inference.api import (
    CropBox,
    Heatmap,
    ModelCard,
    Prediction,
    PreparedImage,
    Preprocessing,
    XRayImage,
)
from inference.backends.int8 import check_int8, int8_runner
from inference.backends.onnx import OnnxRunner, parity_runner, wants_onnx
from inference.backends.probe import probe_inputs
from inference.device import bf16_dtype, exact_fp32, select_device
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
from inference.models.head import probabilities
from inference.models.package import load_package
from inference.network_input import prepare_image
from inference.options import BACKENDS, PRECISIONS, TTA_MODES
from inference.overlay import smooth_map

log = logging.getLogger(__name__)

PARITY_TOLERANCE = 0.02  # max |p_bf16 - p_fp32| on the parity probe before bf16 is used


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
        precision: str = "fp32",
        backend: str = "auto",
        package: Path | None = None,
    ) -> None:
        """``package`` is the folder the weights came from (its ONNX export is looked for there).

        ``precision`` is fp32 unless bf16 or int8 is asked for; the runtime and precision are settled
        here, once, by comparing each candidate with torch fp32 on the same fixed probe images
        (:func:`inference.backends.probe.probe_inputs`), so they never depend on the images a run
        scores first: every command, batch and worker on one machine scores an image alike.
        """
        if tta not in TTA_MODES:
            raise ValueError(f"unknown TTA mode {tta!r}; choose one of {', '.join(TTA_MODES)}")
        if tta == "tencrop" and card.preprocessing is not Preprocessing.CHEXNET:
            raise ValueError("ten-crop TTA belongs to the CheXNet preprocessing convention")
        if precision not in PRECISIONS:
            raise ValueError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
        self._card = card
        self._device = select_device(device)
        exact_fp32(self._device)
        self._model = model.to(self._device).to(memory_format=torch.channels_last).eval()
        self._tta = tta
        self._shown = [i for i, lab in enumerate(card.labels) if lab.trained]
        bf16 = bf16_dtype(self._device) if precision == "bf16" else None
        if precision == "int8":
            check_int8(backend, self._device)
            backend = "onnx"
        onnx_runs = wants_onnx(backend, self._device, card.architecture)
        self._package = package
        # The package's safety gate (sha256-checked); None without a package: every image is scored.
        self.gate: Gate | None = load_gate(package, card) if package is not None else None
        self._dtype = torch.float32
        self._onnx: OnnxRunner | None = None
        self._settle(onnx_runs and bf16 is None, precision == "int8", bf16)
        # heat maps are fp32 whatever scores; ONNX Runtime's fp32 pass is faster than torch's (issue 10)
        self._cam_onnx_pending = onnx_runs and has_closed_form(model)  # until the first explain checks it
        self._cam_onnx: OnnxRunner | None = None  # the runner it checked, None: torch

    def _settle(self, try_onnx: bool, int8: bool, bf16: torch.dtype | None) -> None:
        """Runtime and precision of every batch, from each candidate's parity with torch fp32 on the
        fixed probe images (deterministic: the same choice for every run on this machine)."""
        self._probe = probe = torch.from_numpy(probe_inputs(self._card)).to(self._device)
        reference = self._forward(probe, torch.float32)[0]
        if try_onnx:
            self._onnx = parity_runner(self._model, self._package, self._card, probe, reference, self._scores)
        if int8 and self._onnx is not None:
            calibration = functools.partial(prepare_image, service=self)
            sha256 = self._card.weights_sha256
            quantized = int8_runner(self._onnx, sha256, calibration, probe, reference, self._scores)
            self._onnx = quantized or self._onnx
        if bf16 is not None:
            gap = (self._forward(probe, bf16)[0] - reference).abs().max().item()
            if gap <= PARITY_TOLERANCE:
                self._dtype = bf16
            else:
                log.warning("bf16 differs from fp32 by %.4f (> %.2f) on the probe", gap, PARITY_TOLERANCE)
        log.info("scoring with %s %s", self.backend, self.precision)

    @property
    def card(self) -> ModelCard:
        return self._card

    @property
    def device(self) -> str:
        return self._device.type

    @property
    def precision(self) -> str:
        """What scores: fp32, bf16 or int8 (a result is reused only for a request of the same)."""
        if self._onnx is not None:
            return self._onnx.precision
        return "bf16" if self._dtype == torch.bfloat16 else "fp32"

    @property
    def backend(self) -> str:
        """The runtime that scores: onnx (ONNX Runtime, CPU) or torch."""
        return "onnx" if self._onnx is not None else "torch"

    def prepare(self, image: XRayImage) -> PreparedImage:
        """Network input of ``image`` (ten crops with ten-crop TTA); pure numpy, any thread."""
        card = self._card
        if self._tta == "tencrop":
            inputs = preprocess.chexnet_tencrop(image.pixels, card.input_size)
        else:
            inputs = preprocess.prepare(image.pixels, card.preprocessing, card.input_size)[None]
        box = preprocess.crop_box(image.pixels.shape, card.preprocessing, card.input_size)
        return PreparedImage(meta=image.meta, inputs=inputs, warnings=image.warnings, box=box)

    def _scores(self, logits: torch.Tensor) -> torch.Tensor:
        return probabilities(logits, self._card.task)

    def _forward(self, batch: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """Scores and pooled features (fp32) of one forward pass."""
        reduced = dtype != torch.float32
        autocast = torch.autocast(self._device.type, dtype=dtype) if reduced else contextlib.nullcontext()
        with torch.inference_mode(), autocast:
            logits, pooled = self._model.forward_with_embedding(batch)
            return self._scores(logits), pooled.float()

    def _run(self, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Scores and pooled features of ``batch`` on the runtime and precision settled at load."""
        if self._onnx is None:
            return self._forward(batch, self._dtype)
        logits, pooled = self._onnx.forward(batch.numpy())
        return self._scores(torch.from_numpy(logits)), torch.from_numpy(pooled)

    def predict(self, images: Sequence[XRayImage | PreparedImage]) -> list[Prediction]:
        """Scores of each image for the card's shown labels, and its embedding (pooled norm5 features,
        averaged over crops, L2-normalised), from one forward pass for the whole batch."""
        if not images:
            return []
        prepared = [im if isinstance(im, PreparedImage) else self.prepare(im) for im in images]
        batch = torch.from_numpy(np.concatenate([im.inputs for im in prepared])).to(self._device)
        batch = batch.contiguous(memory_format=torch.channels_last)
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

    def explain(
        self, image: XRayImage | PreparedImage, label: str, shape: tuple[int, int] | None = None
    ) -> Heatmap:
        """Grad-CAM of ``label`` for the network input ``image`` (always fp32), placed over the part of
        an image of ``shape`` (the image shown, at any resolution; default: an XRayImage's own) that the
        input covers, smoothed and faded to zero at the crop border, zero elsewhere. With ten-crop TTA,
        of the centre crop.

        The product passes what scoring prepared from the file (the engine, through
        :func:`inference.network_input.prepare_image`), so the map and its probability are those of the
        input that was scored; an XRayImage is prepared as it is. Every output's map comes from one
        forward pass with no backward pass (:func:`forward_cams`, equal to Captum's LayerGradCam; other
        architectures: Captum's LayerGradCam itself), kept for the last input: another finding of the
        same image costs no pass at all. On the CPU that pass runs on ONNX Runtime fp32 unless the
        backend is torch or the export's maps differ from torch's (:meth:`_cam_runner`).
        """
        if isinstance(image, XRayImage):
            shape = shape or (image.pixels.shape[0], image.pixels.shape[1])
            image = self.prepare(image)
        if shape is None:
            raise ValueError("the shape of the image shown is needed to place a prepared input's heat map")
        index = [lab.name for lab in self._card.labels].index(label)
        crop = image.inputs[preprocess.TENCROP_CENTRE if self._tta == "tencrop" else 0]
        cams = self._forward_cams(crop)
        probability = float(self._scores(cams.logits[None])[0, index])
        values = _cam_to_image(cams.maps[index].cpu().numpy(), shape, image.box)
        method = cam_method(self._model, cams.runtime)
        return Heatmap(label=label, values=values, probability=probability, method=method)

    def _forward_cams(self, inputs: np.ndarray) -> _Cams:
        """Every output's low-resolution map and the logits of one network input (C×S×S), from the
        cache when it is the input last explained."""
        digest = hashlib.blake2b(inputs.tobytes(), digest_size=16).digest()
        if self._cams is None or self._cams.digest != digest:
            x = torch.from_numpy(np.ascontiguousarray(inputs)[None]).to(self._device)
            model = self._model
            if not has_closed_form(model):
                self._cams = _Cams(digest, *captum_cams(model, x), TORCH)
            elif (runner := self._cam_runner(model)) is not None:
                self._cams = _Cams(digest, *onnx_cams(runner, model, x), ONNX_RUNTIME)
            else:
                self._cams = _Cams(digest, *forward_cams(model, x), TORCH)
        return self._cams

    def _cam_runner(self, model: CheXDenseNet) -> OnnxRunner | None:
        """The fp32 ONNX Runtime runner of the heat maps, None for torch: the scoring runner when it is
        fp32, else one opened on the first explain and kept only if its maps of the parity probe's first
        image agree with torch's (the same choice whatever image is explained first). Never int8."""
        if self._onnx is not None and self._onnx.precision == "fp32":
            return self._onnx
        if self._cam_onnx_pending:
            self._cam_onnx_pending = False
            probe, card = self._probe[:1], self._card
            self._cam_onnx = checked_cam_runner(model, self._package, card, probe, self._scores)
        return self._cam_onnx


def _per_image(rows: torch.Tensor, images: int) -> torch.Tensor:
    """Rows of a batch (one per crop) averaged per image: ten-crop TTA gives ten rows per image."""
    return rows.reshape(images, -1, rows.shape[1]).mean(dim=1)


def _cam_to_image(cam: np.ndarray, shape: tuple[int, ...], box: CropBox) -> np.ndarray:
    """The low-resolution CAM over the part ``box`` of an image of ``shape``, zero elsewhere."""
    h, w = shape[:2]
    out = np.zeros((h, w), np.float32)
    top, left = min(h - 1, round(box.top * h)), min(w - 1, round(box.left * w))
    height = min(h - top, max(1, round(box.height * h)))
    width = min(w - left, max(1, round(box.width * w)))
    out[top : top + height, left : left + width] = smooth_map(cam, height, width)
    return out


def load_service(
    package: Path, device: str = "auto", tta: str = "none", precision: str = "fp32", backend: str = "auto"
) -> ModelService:
    """Load a model package (weights checked against the card's sha256) onto a device."""
    package = Path(package)
    card, model = load_package(package)
    return ModelService(
        card, model, device=device, tta=tta, precision=precision, backend=backend, package=package
    )
