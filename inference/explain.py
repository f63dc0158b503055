"""Grad-CAM through Captum's ``LayerGradCam`` on the model's last feature map.

Traps handled (DOMAIN.md): gradients need ``enable_grad`` even when the caller is in inference
mode; the ReLU after ``features.norm5`` is not in place in :class:`CheXDenseNet`; maps are
rectified (``relu_attributions=True``); the target is the logit, never a normalised score; every
hook (Captum's and ours) is gone when this returns (checked by a test).
"""

from __future__ import annotations

import numpy as np
import torch
from captum.attr import LayerGradCam

from inference.models.densenet import CheXDenseNet


def grad_cam(model: CheXDenseNet, inputs: torch.Tensor, target: int) -> tuple[np.ndarray, torch.Tensor]:
    """Grad-CAM of output ``target`` for one image: (map in [0, 1] at input size, logits of that image).

    The logits come from the same forward pass Captum runs, so one heatmap costs one forward and
    one backward pass.
    """
    if inputs.shape[0] != 1:
        raise ValueError("grad_cam explains one image at a time")
    captured: list[torch.Tensor] = []
    hook = model.register_forward_hook(lambda _m, _i, out: captured.append(out.detach()))
    try:
        with torch.inference_mode(False), torch.enable_grad():
            inputs = inputs.float().clone().requires_grad_(True)
            cam = LayerGradCam(model, model.cam_layer).attribute(
                inputs, target=target, relu_attributions=True
            )
            cam = torch.nn.functional.interpolate(
                cam, size=inputs.shape[-2:], mode="bilinear", align_corners=False
            )
    finally:
        hook.remove()
    values = cam[0, 0].detach().cpu().numpy().astype(np.float32)
    peak = float(values.max())
    return (values / peak if peak > 0 else np.zeros_like(values)), captured[-1][0].float()
