"""The ``chexnet`` checkpoint format: arnoweng/CheXNet ``model.pth.tar`` — ``{"state_dict": ...}`` with
keys ``module.densenet121.features...`` in the old torchvision naming (``norm.1`` -> ``norm1``) and a
``classifier.0`` Linear followed by a Sigmoid."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

from inference.api import LabelCard, ModelCard, Preprocessing
from inference.labels import CHESTXRAY14, canonical, label_code
from inference.models.checkpoints import (
    FALLBACK_THRESHOLD,
    THRESHOLD_NOTE,
    UNCALIBRATED,
    CheckpointError,
    Converted,
    Provenance,
    densenet_card,
    fit_densenet,
    rename_old_densenet_key,
    strip_prefixes,
    tensor_dict,
)

# arnoweng's head is Sequential(Linear, Sigmoid); we keep the Linear and apply the sigmoid at inference.
_HEAD = {"classifier.0.weight": "classifier.weight", "classifier.0.bias": "classifier.bias"}


def convert(obj: Any, source: str = "checkpoint") -> Converted:
    """arnoweng/CheXNet ``model.pth.tar`` contents -> CheXDenseNet state dict (3 channels)."""
    if isinstance(obj, torch.nn.Module):
        raise CheckpointError(
            f"{source}: a pickled torchxrayvision DenseNet, not CheXNet: use 'model import xrv'"
        )
    raw = obj.get("state_dict") if isinstance(obj, Mapping) and "state_dict" in obj else obj
    tensors = tensor_dict(raw)
    if tensors is None:
        raise CheckpointError(
            f"{source}: expected a dict with a 'state_dict' of tensors (arnoweng CheXNet format)"
        )
    state: dict[str, torch.Tensor] = {}
    for key, value in tensors.items():
        new = strip_prefixes(key, ("module.", "densenet121."))
        new = rename_old_densenet_key(new)
        new = _HEAD.get(new, new)
        state[new] = value
    return fit_densenet(state, in_channels=3, source=source)


def chexnet_labels(num_outputs: int, names: Sequence[str] | None = None) -> tuple[LabelCard, ...]:
    """ChestX-ray14 labels, all trained, at the uncalibrated 0.5 (CheXNet published no operating points)."""
    names = tuple(names) if names else CHESTXRAY14
    if len(names) != num_outputs:
        raise CheckpointError(f"checkpoint has {num_outputs} outputs but {len(names)} label names were given")
    if not all(names) or len(set(names)) != len(names):
        raise CheckpointError(f"label names must be non-empty and distinct: {list(names)}")
    fallback = {UNCALIBRATED: FALLBACK_THRESHOLD}
    return tuple(LabelCard(canonical(n), operating_points=fallback, code=label_code(n)) for n in names)


def card(
    converted: Converted,
    provenance: Provenance,
    labels: Sequence[str] | None = None,
    op_threshs: Sequence[float] | None = None,
) -> ModelCard:
    """The card of a converted CheXNet checkpoint (which publishes no thresholds to override)."""
    if op_threshs is not None:
        raise CheckpointError("CheXNet checkpoints have no op_threshs; --op-threshs is for xrv")
    description = (
        "CheXNet (arnoweng/CheXNet re-implementation of Rajpurkar et al. 2017), DenseNet-121, "
        "ChestX-ray14 labels, sigmoid outputs; the reference used ten-crop averaging. "
        f"No operating points were published: every label's default point '{UNCALIBRATED}' is "
        f"{FALLBACK_THRESHOLD}, which is not a calibrated cut-off. {THRESHOLD_NOTE}"
    )
    return densenet_card(
        provenance,
        Preprocessing.CHEXNET,
        chexnet_labels(converted.num_outputs, labels),
        UNCALIBRATED,
        description,
        default_training_data=("ChestX-ray14 (NIH Clinical Center)",),
    )
