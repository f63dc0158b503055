"""Grad-CAM from a forward pass, in numpy: every finding's map from the last feature map and the
classifier weights, placed over the image shown. Whichever runtime computed the feature map (ONNX
Runtime's export, or torch: :mod:`inference.runtime.explain`) the maps come from this one formula.

Closed form: the head is logit_c = w_c · mean_ij ReLU(A)(i, j) + b_c for the norm5 output A (C×H×W).
Its gradient is dlogit_c/dA_k(i, j) = w_ck · 1[A_k(i, j) > 0] / (H·W), so LayerGradCam's channel
weight (the gradient's spatial mean) is α_ck = w_ck · mean_ij 1[A_k(i, j) > 0] / (H·W), and its map is
ReLU(Σ_k α_ck A_k): Captum multiplies by A itself, not ReLU(A), and does not normalise. Valid for
DenseNet-121's head only (norm5 → ReLU → global average pool → linear); tests hold it to Captum's
LayerGradCam.
"""

from __future__ import annotations

import numpy as np

from inference.api import CropBox
from inference.render.overlay import smooth_map


def closed_form_cams(features: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Every output's Grad-CAM (L×H×W, float32) of one image from its norm5 output ``features``
    (C×H×W) and the classifier weights ``weight`` (L×C): ReLU(Σ_k α_ck A_k), with
    α_ck = w_ck · mean_ij 1[A_k > 0] / (H·W)."""
    a = np.asarray(features, np.float32)
    positive = (a > 0).mean(axis=(1, 2), dtype=np.float32) / np.float32(a.shape[1] * a.shape[2])
    alphas = np.asarray(weight, np.float32) * positive  # (L, C): LayerGradCam's channel weights
    return np.maximum(np.einsum("lc,chw->lhw", alphas, a), 0).astype(np.float32)


def cam_method(closed_form: bool, runtime: str) -> str:
    """How heat maps are computed, and by which ``runtime``, in words (shown with every heat map)."""
    if closed_form:
        return f"Grad-CAM: LayerGradCam on features.norm5, closed form, {runtime}"
    return f"Grad-CAM: Captum LayerGradCam on the last feature map, {runtime}"


def place_cam(cam: np.ndarray, shape: tuple[int, ...], box: CropBox) -> np.ndarray:
    """The low-resolution map ``cam`` over the part ``box`` of an image of ``shape``, smoothed and faded to
    zero at the crop border, zero elsewhere."""
    h, w = shape[:2]
    out = np.zeros((h, w), np.float32)
    top, left = min(h - 1, round(box.top * h)), min(w - 1, round(box.left * w))
    height = min(h - top, max(1, round(box.height * h)))
    width = min(w - left, max(1, round(box.width * w)))
    out[top : top + height, left : left + width] = smooth_map(cam, height, width)
    return out
