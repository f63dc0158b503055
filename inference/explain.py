"""Grad-CAM on the model's last feature map (``features.norm5``): Captum's ``LayerGradCam`` as the
reference, and the same maps in closed form from one forward pass.

Traps handled (DOMAIN.md): gradients need ``enable_grad`` even when the caller is in inference
mode; the ReLU after ``features.norm5`` is not in place in :class:`CheXDenseNet`; maps are
rectified (``relu_attributions=True``); the target is the logit, never a normalised score; every
hook (Captum's and ours) is gone when this returns (checked by a test).

Closed form: the head is logit_c = w_c · mean_ij ReLU(A)(i, j) + b_c for the norm5 output A (C×H×W).
Its gradient is dlogit_c/dA_k(i, j) = w_ck · 1[A_k(i, j) > 0] / (H·W), so LayerGradCam's channel
weight (the gradient's spatial mean) is α_ck = w_ck · mean_ij 1[A_k(i, j) > 0] / (H·W), and its map is
ReLU(Σ_k α_ck A_k): Captum multiplies by A itself, not ReLU(A), and does not normalise.
"""

from __future__ import annotations

import torch
from captum.attr import LayerGradCam

from inference.models.densenet import CheXDenseNet


def captum_cam(model: CheXDenseNet, inputs: torch.Tensor, target: int) -> tuple[torch.Tensor, torch.Tensor]:
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
        a = features[0].float()
        positive = (a > 0).float().mean(dim=(1, 2)) / (a.shape[1] * a.shape[2])
        alphas = model.classifier.weight.float() * positive  # (L, C): LayerGradCam's channel weights
        cams = torch.relu(torch.einsum("lc,chw->lhw", alphas, a))
    return cams, logits
