"""Array transforms from an :class:`XRayImage` to network input, one per convention.

Each returns float32 arrays shaped (C, H, W) (or (10, C, H, W) for ten-crop) ready to stack.
Both conventions start from display pixels in [0, 1] and must never mix: a network fed the other
convention's range gives silently wrong or identical outputs (torchxrayvision issues #89, #152), so a
model card names exactly one and nothing converts between them.
"""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

from inference.api import CropBox, Preprocessing
from inference.io.sanity import MAX_ASPECT

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
XRV_RANGE = 1024.0
TENCROP_CENTRE = 4  # the index of the centre crop among ten-crop TTA's ten


def resize(img: np.ndarray, height: int, width: int) -> np.ndarray:
    """Area interpolation when shrinking (anti-aliased, like PIL), bilinear when enlarging."""
    shrinking = height * width < img.shape[0] * img.shape[1]
    return cv2.resize(img, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)


def _shorter_side_shape(shape: tuple[int, ...], size: int) -> tuple[int, int]:
    """torchvision ``Resize(size)``: the shorter side becomes ``size``, aspect kept (truncated).

    The longer side is capped at ``MAX_ASPECT`` times ``size``: the readers refuse anything more
    elongated, and without the cap a 1×200000 image would be enlarged to 256×51 million pixels.
    """
    h, w = shape[:2]
    cap = int(MAX_ASPECT * size)
    if h <= w:
        return size, min(cap, max(size, int(w * size / h)))
    return min(cap, max(size, int(h * size / w))), size


def _centred(height: int, width: int, size: int) -> tuple[int, int]:
    """(top, left) of a centred ``size`` square in a ``height``×``width`` image."""
    return (height - size) // 2, (width - size) // 2


def center_crop(img: np.ndarray, size: int) -> np.ndarray:
    top, left = _centred(img.shape[0], img.shape[1], size)
    return img[top : top + size, left : left + size]


def crop_box(shape: tuple[int, ...], convention: Preprocessing, input_size: int = 224) -> CropBox:
    """The part of an image of ``shape`` that :func:`prepare`'s (centre) crop covers, by the same
    resize and crop arithmetic."""
    h, w = shape[:2]
    if convention is Preprocessing.CHEXNET:
        rh, rw = _shorter_side_shape(shape, _chexnet_resize_side(input_size))
        top, left = _centred(rh, rw, input_size)
        return CropBox(top / rh, left / rw, input_size / rh, input_size / rw)
    side = min(h, w)
    top, left = _centred(h, w, side)
    return CropBox(top / h, left / w, side / h, side / w)


def center_square(img: np.ndarray) -> np.ndarray:
    """torchxrayvision ``XRayCenterCrop``: the largest centred square."""
    return center_crop(img, min(img.shape[:2]))


def ten_crop(img: np.ndarray, size: int) -> list[np.ndarray]:
    """torchvision ``TenCrop``'s ten crops: four corners and centre, then the same mirrored."""
    h, w = img.shape[:2]
    crops = [img[:size, :size], img[:size, w - size :], img[h - size :, :size], img[h - size :, w - size :]]
    crops.append(center_crop(img, size))  # TENCROP_CENTRE
    return crops + [c[:, ::-1] for c in crops]


def _chexnet_normalise(gray8_crop: np.ndarray) -> np.ndarray:
    rgb = np.repeat((gray8_crop.astype(np.float32) / 255.0)[None], 3, axis=0)
    return (rgb - IMAGENET_MEAN[:, None, None]) / IMAGENET_STD[:, None, None]


def chexnet_8bit(pixels: np.ndarray, input_size: int) -> np.ndarray:
    """Display pixels -> the 8-bit resized image CheXNet crops from (shorter side 256/224 of input).

    Resized with PIL's bilinear filter, exactly as the reference's torchvision ``Resize`` on PIL
    images: cv2's filters move CheXNet probabilities by up to 0.07 (parity test).
    """
    gray8 = np.clip(np.rint(pixels * 255.0), 0, 255).astype(np.uint8)
    h, w = _shorter_side_shape(gray8.shape, _chexnet_resize_side(input_size))
    return np.asarray(Image.fromarray(gray8).resize((w, h), Image.Resampling.BILINEAR))


def _chexnet_resize_side(input_size: int) -> int:
    """CheXNet resizes the shorter side to 256 for a 224 crop: the same ratio at other sizes."""
    return round(input_size * 256 / 224)


def chexnet(pixels: np.ndarray, input_size: int = 224) -> np.ndarray:
    """CheXNet: 8-bit gray -> RGB, resize 256, centre crop 224, ImageNet mean/std. (3, S, S)."""
    return _chexnet_normalise(center_crop(chexnet_8bit(pixels, input_size), input_size))


def chexnet_tencrop(pixels: np.ndarray, input_size: int = 224) -> np.ndarray:
    """The CheXNet reference test-time augmentation: ten crops, (10, 3, S, S)."""
    return np.stack([_chexnet_normalise(c) for c in ten_crop(chexnet_8bit(pixels, input_size), input_size)])


def xrv(pixels: np.ndarray, input_size: int = 224) -> np.ndarray:
    """torchxrayvision: [-1024, 1024], centre square, resize. (1, S, S)."""
    square = resize(center_square(pixels), input_size, input_size)
    return ((square * 2.0 - 1.0) * XRV_RANGE).astype(np.float32)[None]


# A reduced decode (inference.io.reduced) keeps at least this many times the side the preprocessing
# resizes to, so that the preprocessing's own filter still does the last reduction: with a box
# average straight to that side the demo model's probabilities moved by up to 0.058 (model 1.0.0); with
# twice the side by up to 0.011 (1.0.0) and 0.024 (2.0.0, 224 px: a baseline-JPEG DICOM); with three
# times the side by at most 0.001 (2.0.0) on the bundled samples (tests/unit/test_reduced_decode.py).
DECODE_MARGIN = 3


def decode_side(convention: Preprocessing, input_size: int) -> int:
    """The shorter side worth decoding for a convention (``read_image``'s ``min_side`` for scoring):
    any more pixels are only averaged away again by the preprocessing's resize."""
    side = _chexnet_resize_side(input_size) if convention is Preprocessing.CHEXNET else input_size
    return DECODE_MARGIN * side


def prepare(pixels: np.ndarray, convention: Preprocessing, input_size: int = 224) -> np.ndarray:
    """Network input of one image for a model card's convention."""
    if convention is Preprocessing.CHEXNET:
        return chexnet(pixels, input_size)
    return xrv(pixels, input_size)
