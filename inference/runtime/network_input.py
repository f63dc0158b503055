"""The one path from an image file to network input: how much to decode, then crop and normalise.

Scoring, heat maps, the parity probe, int8 calibration, the safety gate's fit and the training cache
all read images through :func:`read_for_network`, and the model service's ``prepare`` (which also says
which part of the image the input covers, :func:`inference.runtime.preprocess.crop_box`) makes the input, so
a heat map explains exactly the input that was scored.
"""

from __future__ import annotations

import logging
from pathlib import Path

from inference.api import PreparedImage, Preprocessing, TriageService, XRayImage
from inference.io import ReadError, read_image
from inference.runtime.preprocess import decode_side

log = logging.getLogger(__name__)


def read_for_network(path: Path, convention: Preprocessing, input_size: int) -> XRayImage:
    """The image at ``path`` decoded as scoring decodes it: no more pixels than a network input of
    ``convention`` and ``input_size`` needs (:func:`inference.runtime.preprocess.decode_side`). Raises
    ReadError."""
    return read_image(path, min_side=decode_side(convention, input_size))


def prepare_image(path: Path, service: TriageService) -> PreparedImage | str:
    """The network input of the image at ``path`` for ``service``, or why it cannot be read."""
    try:
        card = service.card
        return service.prepare(read_for_network(path, card.preprocessing, card.input_size))
    except ReadError as exc:
        return str(exc)
    except Exception as exc:  # a reader must never end the run: any surprise is this image's error
        log.warning("unexpected failure reading an image: %s", type(exc).__name__)
        return f"cannot read this image ({type(exc).__name__}: {exc})"
