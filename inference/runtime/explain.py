"""Grad-CAM with torch on the model's last feature map (its ``cam_layer``; DenseNet-121:
``features.norm5``): Captum's ``LayerGradCam`` as the reference, and for DenseNet-121 the same maps
from one forward pass by the closed form (:func:`inference.runtime.gradcam.closed_form_cams`, also what the
ONNX Runtime service uses). Other heads (EfficientNet-Lite0's ReLU6 sits inside its ``cam_layer``) get
Captum's maps, one backward pass per output (:func:`captum_cams`).

Traps handled: gradients need ``enable_grad`` even when the caller is in inference mode; the ReLU
after ``features.norm5`` is not in place in :class:`CheXDenseNet` (an in-place ReLU breaks backward
hooks: pytorch-grad-cam #147); maps are rectified (``relu_attributions=True``); the target is the
logit, never a normalised score; every hook (Captum's and ours) is gone when this returns (checked by
a test).
"""

from __future__ import annotations

from typing import TypeGuard

import torch
from captum.attr import LayerGradCam

from inference.models.architectures import ChestNet
from inference.models.densenet import CheXDenseNet
from inference.runtime.gradcam import closed_form_cams


def has_closed_form(model: ChestNet) -> TypeGuard[CheXDenseNet]:
    """Whether :func:`forward_cams` is valid for ``model``'s head (norm5 → ReLU → average pool → linear)."""
    return isinstance(model, CheXDenseNet)


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
    feature resolution, equal to :func:`captum_cam` of each output; the image's L logits), on the CPU.

    Valid for :class:`CheXDenseNet`'s head only (norm5 → ReLU → global average pool → linear).
    """
    if inputs.shape[0] != 1:
        raise ValueError("forward_cams explains one image at a time")
    with torch.inference_mode():
        features = model.forward_features(inputs.float())
        logits = model.forward_head(features)[0].float().cpu()
        weight = model.classifier.weight.float().cpu().numpy()
        cams = closed_form_cams(features[0].float().cpu().numpy(), weight)
    return torch.from_numpy(cams), logits
