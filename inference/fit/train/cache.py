"""Decode every image once (as scoring decodes it) into a uint8 array at the CheXNet pre-crop size; flag
unusable ones."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from inference.api import Preprocessing
from inference.runtime.network_input import read_for_network
from inference.runtime.preprocess import center_crop, chexnet_8bit


def read_pixels(path: Path, input_size: int) -> np.ndarray:
    """Display pixels in [0, 1], read as scoring reads them for a CheXNet network of ``input_size``."""
    return read_for_network(Path(path), Preprocessing.CHEXNET, input_size).pixels


def quality_issue(gray8: np.ndarray) -> str:
    """Why an image should not be trained on ('' if fine): blank, or mostly black border."""
    if float(gray8.std()) < 4.0:
        return "blank (no contrast)"
    if float((gray8 < 12).mean()) > 0.6:
        return "mostly black border"
    if float((gray8 > 243).mean()) > 0.6:
        return "mostly white"
    return ""


def pre_crop_size(input_size: int) -> int:
    return round(input_size * 256 / 224)


def load_one(path: Path, input_size: int) -> tuple[np.ndarray | None, str]:
    """(square uint8 image of side round(size*256/224), issue). The issue says why it is None."""
    try:
        gray8 = chexnet_8bit(read_pixels(path, input_size), input_size)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is reported and skipped
        return None, f"unreadable: {exc}"
    issue = quality_issue(gray8)
    return (None if issue else center_crop(gray8, pre_crop_size(input_size))), issue


def load_images(paths: list[Path], input_size: int, threads: int = 2) -> tuple[np.ndarray, dict[int, str]]:
    """Stacked images (N, S, S) uint8 (zeros where skipped) and {index: reason} of skipped ones."""
    side = pre_crop_size(input_size)
    out = np.zeros((len(paths), side, side), dtype=np.uint8)
    skipped: dict[int, str] = {}
    with ThreadPoolExecutor(max(1, threads)) as pool:
        for i, (img, issue) in enumerate(pool.map(lambda p: load_one(p, input_size), paths)):
            if img is None:
                skipped[i] = issue
            else:
                out[i] = img
    return out, skipped
