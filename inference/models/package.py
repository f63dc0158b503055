"""A model package is a folder: ``model.safetensors`` + ``card.json``.

Loading never unpickles: weights are safetensors, the card is JSON. The card is checked field by
field (:func:`inference.models.card.parse_card`), then the weights against it: their sha256, that
they parse, and that their tensors fit the network the card describes. Writing a package applies
the same checks before anything is written.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from safetensors.torch import save as serialize

from inference.api import ModelCard, Preprocessing
from inference.models.architectures import ChestNet, architecture, build, reference_state
from inference.models.card import (
    CARD,
    WEIGHTS,
    PackageError,
    card_text,
    card_to_dict,
    checked_weights,
    invalid,
    read_card,
    sha256_of,
)
from inference.models.densenet import state_problems

__all__ = [
    "CARD",
    "WEIGHTS",
    "PackageError",
    "build_model",
    "card_to_dict",
    "load_package",
    "read_card",
    "read_weights",
    "save_package",
    "sha256_of",
]


INPUT_CHANNELS = {Preprocessing.CHEXNET: 3, Preprocessing.XRV: 1}


def _fit_problems(card: ModelCard, state: Mapping[str, torch.Tensor]) -> list[str]:
    """Why ``state`` does not fit the network ``card`` describes (output count, input channels, tensors)."""
    expected = INPUT_CHANNELS[card.preprocessing]
    stem_key = architecture(card.architecture).stem
    head, stem = state.get("classifier.weight"), state.get(stem_key)
    outputs = int(head.shape[0]) if head is not None and head.ndim == 2 else len(card.labels)
    channels = int(stem.shape[1]) if stem is not None and stem.ndim == 4 else expected
    problems = []
    if outputs != len(card.labels):
        problems.append(
            f"{CARD}: {len(card.labels)} labels but {WEIGHTS} has {outputs} outputs (classifier out_features)"
        )
    if channels != expected:
        problems.append(
            f"{CARD}: preprocessing {card.preprocessing.value!r} needs {expected}-channel weights, but the "
            f"first convolution of {WEIGHTS} ({stem_key.removesuffix('.weight')}) takes {channels} channel(s)"
        )
    tensors = state_problems(state, reference_state(card.architecture, outputs, channels))
    return problems + ([f"{WEIGHTS}: weights cannot be loaded: " + "; ".join(tensors)] if tensors else [])


def read_weights(package: Path, card: ModelCard) -> dict[str, torch.Tensor]:
    """The package's weights, after checking their sha256 against ``card`` and their tensors against
    the network it describes."""
    weights = checked_weights(package, card)
    try:
        state = load_file(str(weights))
    except (SafetensorError, OSError) as exc:
        raise invalid(package, [f"{WEIGHTS}: weights cannot be loaded: {exc}"]) from exc
    problems = _fit_problems(card, state)
    if problems:
        raise invalid(package, problems)
    return state


def build_model(card: ModelCard) -> ChestNet:
    """A fresh network of the card's architecture, labels and input channels."""
    return build(card.architecture, len(card.labels), in_channels=INPUT_CHANNELS[card.preprocessing])


def load_package(package: Path) -> tuple[ModelCard, ChestNet]:
    """Card and model in eval mode, after checking the card and the weights (see the module doc)."""
    package = Path(package)
    card = read_card(package)
    state = read_weights(package, card)
    model = build_model(card)
    model.load_state_dict(state)  # copies, so fp16 weights become the model's fp32
    return card, model.eval()


def save_package(
    package: Path, card: ModelCard, model: torch.nn.Module, dtype: torch.dtype = torch.float32
) -> ModelCard:
    """Write weights and card; returns the card with the weights' sha256 filled in.

    Nothing is written when the card is invalid or does not fit the model.
    """
    package = Path(package)
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    state = {k: v.to(dtype) if v.is_floating_point() else v for k, v in state.items()}
    problems = _fit_problems(card, state)
    if problems:
        raise invalid(package, problems)
    blob = serialize(state)
    card = dataclasses.replace(card, weights_sha256=hashlib.sha256(blob).hexdigest())
    text = card_text(card, package)
    package.mkdir(parents=True, exist_ok=True)
    (package / WEIGHTS).write_bytes(blob)
    (package / CARD).write_text(text, encoding="utf-8")
    return card
