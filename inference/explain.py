"""Grad-CAM on the model's last feature map (its ``cam_layer``; DenseNet-121: ``features.norm5``):
Captum's ``LayerGradCam`` as the reference, and for DenseNet-121 the same maps in closed form from one
forward pass. Other heads (EfficientNet-Lite0's ReLU6 sits inside its ``cam_layer``) get Captum's
maps, one backward pass per output (:func:`captum_cams`).

Traps handled (DOMAIN.md): gradients need ``enable_grad`` even when the caller is in inference
mode; the ReLU after ``features.norm5`` is not in place in :class:`CheXDenseNet`; maps are
rectified (``relu_attributions=True``); the target is the logit, never a normalised score; every
hook (Captum's and ours) is gone when this returns (checked by a test).

Closed form: the head is logit_c = w_c · mean_ij ReLU(A)(i, j) + b_c for the norm5 output A (C×H×W).
Its gradient is dlogit_c/dA_k(i, j) = w_ck · 1[A_k(i, j) > 0] / (H·W), so LayerGradCam's channel
weight (the gradient's spatial mean) is α_ck = w_ck · mean_ij 1[A_k(i, j) > 0] / (H·W), and its map is
ReLU(Σ_k α_ck A_k): Captum multiplies by A itself, not ReLU(A), and does not normalise.
:func:`closed_form_cams` is that formula, whichever runtime computed A: torch (:func:`forward_cams`)
or ONNX Runtime (:func:`onnx_cams`, the fp32 export's feature map output), the latter used by the
service only after :func:`checked_cam_runner` found it equal to the torch maps on a real image.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TypeGuard

import torch
from captum.attr import LayerGradCam

from inference.api import ModelCard
from inference.backends import onnx
from inference.backends.onnx import OnnxRunner
from inference.models.architectures import ChestNet
from inference.models.densenet import CheXDenseNet

log = logging.getLogger(__name__)

MAP_TOLERANCE = 1e-3  # max |map_onnx - map_torch| / peak of map_torch (:func:`cam_gap`) before ONNX maps
TORCH, ONNX_RUNTIME = "torch fp32", "ONNX Runtime fp32"  # the runtimes that make heat maps


def has_closed_form(model: ChestNet) -> TypeGuard[CheXDenseNet]:
    """Whether :func:`forward_cams` is valid for ``model``'s head (norm5 → ReLU → average pool → linear)."""
    return isinstance(model, CheXDenseNet)


def cam_method(model: ChestNet, runtime: str) -> str:
    """How the service's heat maps of ``model`` are computed, and by which ``runtime``, in words."""
    if has_closed_form(model):
        return f"Grad-CAM: LayerGradCam on features.norm5, closed form, {runtime}"
    return f"Grad-CAM: Captum LayerGradCam on the last feature map, {runtime}"


def captum_cam(model: ChestNet, inputs: torch.Tensor, target: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Captum's LayerGradCam of output ``target`` for one image: (H×W map at feature resolution, as
    Captum returns it, rectified and not normalised; logits of that image from the same forward pass)."""
    if inputs.shape[0] != 1:
        raise ValueError("captum_cam explains one image at a time")
    captured: list[torch.Tensor] = []
    hook = model.register_forward_hook(lambda _m, _i, out: captured.append(out.detach()))
    try:
        with torch.inference_mode(False), torch.enable_grad():
            inputs = inputs.float().clone().requires_grad_(True)
            cam = LayerGradCam(model, model.cam_layer).attribute(
                inputs, target=target, relu_attributions=True
            )
    finally:
        hook.remove()
    return cam[0, 0].detach().float(), captured[-1][0].float()


def captum_cams(model: ChestNet, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Every output's :func:`captum_cam` of one image: (L×H×W maps at feature resolution; L logits)."""
    each = [captum_cam(model, inputs, target) for target in range(model.classifier.out_features)]
    return torch.stack([cam for cam, _ in each]), each[0][1]


def forward_cams(model: CheXDenseNet, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Every output's Grad-CAM of one image from one forward pass, no backward pass: (L×H×W maps at
    feature resolution, equal to :func:`captum_cam` of each output; the image's L logits).

    Valid for :class:`CheXDenseNet`'s head only (norm5 → ReLU → global average pool → linear).
    """
    if inputs.shape[0] != 1:
        raise ValueError("forward_cams explains one image at a time")
    with torch.inference_mode():
        features = model.forward_features(inputs.float())
        logits = model.forward_head(features)[0].float()
    return closed_form_cams(features[0], model.classifier.weight), logits


def onnx_cams(
    runner: OnnxRunner, model: CheXDenseNet, inputs: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`forward_cams` of one image with ONNX Runtime running the network (``runner``: an fp32
    export of ``model``, whose classifier weights the formula reads)."""
    if inputs.shape[0] != 1:
        raise ValueError("onnx_cams explains one image at a time")
    logits, features = runner.forward_features(inputs.cpu().numpy())
    cams = closed_form_cams(torch.from_numpy(features[0]), model.classifier.weight)
    return cams, torch.from_numpy(logits[0])


def closed_form_cams(features: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Every output's Grad-CAM (L×H×W) of one image from its norm5 output ``features`` (C×H×W) and the
    classifier weights ``weight`` (L×C): ReLU(Σ_k α_ck A_k), α_ck = w_ck · mean_ij 1[A_k > 0] / (H·W)."""
    with torch.inference_mode():
        a = features.float()
        positive = (a > 0).float().mean(dim=(1, 2)) / (a.shape[1] * a.shape[2])
        alphas = weight.float() * positive  # (L, C): LayerGradCam's channel weights
        return torch.relu(torch.einsum("lc,chw->lhw", alphas, a))


def cam_gap(cams: torch.Tensor, reference: torch.Tensor) -> float:
    """The largest difference between ``cams`` and ``reference`` (L×H×W each), per output as a fraction of
    the reference map's peak: the maps are shown normalised to their peak."""
    peaks = reference.flatten(1).amax(dim=1).clamp_min(1e-12)
    return float(((cams - reference).abs().flatten(1).amax(dim=1) / peaks).max())


def checked_cam_runner(
    model: CheXDenseNet,
    package: Path | None,
    card: ModelCard,
    inputs: torch.Tensor,
    to_scores: Callable[[torch.Tensor], torch.Tensor],
) -> OnnxRunner | None:
    """An fp32 ONNX Runtime runner of ``model`` whose heat maps and scores of the image ``inputs`` agree
    with torch fp32 (:func:`forward_cams`) within :data:`MAP_TOLERANCE` and the backend's parity
    tolerance; None (and the reason logged) when they do not or it cannot run."""
    try:
        runner = onnx.open_runner(model, package, card, torch.get_num_threads())
        cams, logits = onnx_cams(runner, model, inputs)
    except onnx.FAILURES as exc:
        log.warning("ONNX Runtime cannot make the heat maps (%s); using torch", exc)
        return None
    reference_cams, reference_logits = forward_cams(model, inputs)
    gap = (to_scores(logits[None]) - to_scores(reference_logits[None])).abs().max().item()
    map_gap = cam_gap(cams, reference_cams)
    if gap > onnx.PARITY_TOLERANCE or map_gap > MAP_TOLERANCE:
        log.warning(
            "ONNX Runtime's heat maps differ from torch's (scores by %.2g, limit %.0e; maps by %.2g of "
            "their peak, limit %.0e); using torch for heat maps",
            gap, onnx.PARITY_TOLERANCE, map_gap, MAP_TOLERANCE,
        )  # fmt: skip
        return None
    log.info("ONNX Runtime heat maps agree with torch (maps %.2g, scores %.2g) -> using onnx", map_gap, gap)
    return runner
