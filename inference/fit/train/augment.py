"""Radiograph-appropriate augmentation on cached uint8 images (cv2/numpy), and batching to tensors."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch

from inference.runtime.preprocess import IMAGENET_MEAN, IMAGENET_STD, center_crop


@dataclass(frozen=True)
class AugmentConfig:
    """Small geometric and intensity jitter. No horizontal flip by default: the heart is on the left.

    ``aspect``: the range (log-uniform) of a horizontal stretch before the crop. Sources that squashed
    their radiographs to a square (Kermany: originally 1.3-1.5:1 wide) then look, some of the time,
    like the true-aspect files the product sees: centre-cropped across their width.
    """

    rotate_deg: float = 7.0
    translate: float = 0.06
    scale: tuple[float, float] = (0.9, 1.1)
    brightness: float = 0.1
    contrast: float = 0.15
    hflip: bool = False
    aspect: tuple[float, float] = (1.0, 1.0)


def augment(img: np.ndarray, size: int, rng: np.random.Generator, cfg: AugmentConfig) -> np.ndarray:
    """One random view of a cached square uint8 image: float32 (size, size) in [0, 255]."""
    h, w = img.shape
    angle = rng.uniform(-cfg.rotate_deg, cfg.rotate_deg)
    scale = rng.uniform(*cfg.scale)
    stretch = np.exp(rng.uniform(*np.log(cfg.aspect)))
    centre = np.array([w / 2.0, h / 2.0])
    m = cv2.getRotationMatrix2D(tuple(centre), angle, scale)
    m[:, :2] = m[:, :2] @ np.diag([stretch, 1.0])  # stretch first, then rotate and scale
    m[:, 2] = centre - m[:, :2] @ centre  # about the centre
    m[:, 2] += rng.uniform(-cfg.translate, cfg.translate, 2) * np.array([w, h])
    out = cv2.warpAffine(
        img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0
    )
    out = center_crop(out, size).astype(np.float32)
    if cfg.hflip and rng.random() < 0.5:
        out = out[:, ::-1]
    c = 1.0 + rng.uniform(-cfg.contrast, cfg.contrast)
    b = rng.uniform(-cfg.brightness, cfg.brightness) * 255.0
    mean = out.mean()
    return np.clip((out - mean) * c + mean + b, 0.0, 255.0)


def crop(img: np.ndarray, size: int) -> np.ndarray:
    """The evaluation view: the centre crop, exactly what :func:`inference.runtime.preprocess.chexnet`
    feeds."""
    return center_crop(img, size).astype(np.float32)


_MEAN = torch.from_numpy(IMAGENET_MEAN).view(1, 3, 1, 1)
_STD = torch.from_numpy(IMAGENET_STD).view(1, 3, 1, 1)


def to_batch(views: list[np.ndarray]) -> torch.Tensor:
    """Gray [0, 255] views -> (B, 3, S, S) ImageNet-normalised float32 (channels_last measured slower)."""
    x = torch.from_numpy(np.stack(views)).unsqueeze(1) / 255.0
    return ((x.expand(-1, 3, -1, -1) - _MEAN) / _STD).contiguous()
