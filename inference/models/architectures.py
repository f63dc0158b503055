"""Building the architectures of :data:`inference.models.registry.ARCHITECTURES` (torch): a network by
name, the registry entry of a network, and a state dict's shape without weights."""

from __future__ import annotations

import torch

from inference.models.head import PooledLinearHead
from inference.models.registry import ARCHITECTURES, Architecture

ChestNet = PooledLinearHead  # every network a package can hold
DEFAULT_ARCH = "densenet121"  # what `train` builds without --arch or --init
IMAGENET = "imagenet"  # the one set of pretrained weights there is offline


def architecture(name: str) -> Architecture:
    """The registry entry of ``name``; a ValueError naming the choices for any other name."""
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {name!r}; choose from {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[name]


def architecture_of(model: ChestNet) -> Architecture:
    """The registry entry of the network ``model`` is (DenseNet first: no import for the common case)."""
    return next(a for a in ARCHITECTURES.values() if type(model) is a.network())


def build(name: str, num_outputs: int, in_channels: int = 3, pretrained: str | None = None) -> ChestNet:
    """A fresh network of architecture ``name``; ``pretrained="imagenet"`` loads ImageNet backbone
    weights (a fresh head), where the architecture has them."""
    arch = architecture(name)
    model = arch.network()(num_outputs, in_channels=in_channels)
    if pretrained is None:
        return model
    if pretrained != IMAGENET or not arch.imagenet_loader:
        available = ", ".join(n for n, a in ARCHITECTURES.items() if a.imagenet_loader)
        raise ValueError(f"no {pretrained!r} weights for {name}: ImageNet weights exist for {available} only")
    arch.load_imagenet(model.features)
    return model


def reference_state(name: str, num_outputs: int, in_channels: int) -> dict[str, torch.Tensor]:
    """Names, shapes and dtypes of the state dict of architecture ``name``, on the meta device."""
    with torch.device("meta"):
        return architecture(name).network()(num_outputs, in_channels=in_channels).state_dict()
