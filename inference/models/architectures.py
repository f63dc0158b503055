"""The trainable architectures, by the name a model card gives (``architecture``): the one place that
maps that name to the network, its parts, and what each product path may assume about it.

EfficientNet-Lite0's module (and timm, about 0.4 s) is imported only when such a network is built:
loading the DenseNet demo model does not pay for it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from inference.models.densenet import CheXDenseNet
from inference.models.head import PooledLinearHead

ChestNet = PooledLinearHead  # every network a package can hold
DEFAULT_ARCH = "densenet121"  # what `train` builds without --arch or --init
IMAGENET = "imagenet"  # the one set of pretrained weights there is offline


@dataclass(frozen=True)
class Architecture:
    name: str
    network: Callable[[], Callable[..., ChestNet]]  # the class (imported when first asked for)
    stem: str  # state-dict key of the first convolution (its weight's dim 1 = input channels)
    last_blocks: tuple[str, ...]  # parameter-name prefixes under ``features`` that "gradual" unfreezes
    imagenet: Callable[[nn.Module], None] | None = None  # loads ImageNet weights into ``features``, if any


def _lite0() -> Callable[..., ChestNet]:
    from inference.models.efficientnet import CheXEfficientNetLite0

    return CheXEfficientNetLite0


def _lite0_imagenet(features: nn.Module) -> None:
    from inference.models.efficientnet import load_imagenet_backbone

    load_imagenet_backbone(features)


ARCHITECTURES = {
    "densenet121": Architecture(
        "densenet121", lambda: CheXDenseNet, "features.conv0.weight", ("denseblock4.", "norm5.")
    ),
    "efficientnet_lite0": Architecture(
        "efficientnet_lite0",
        _lite0,
        "features.conv_stem.weight",
        ("blocks.5.", "blocks.6.", "conv_head.", "bn2."),  # the last two stages and the head convolution
        _lite0_imagenet,
    ),
}


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
    if pretrained != IMAGENET or arch.imagenet is None:
        available = ", ".join(n for n, a in ARCHITECTURES.items() if a.imagenet is not None)
        raise ValueError(f"no {pretrained!r} weights for {name}: ImageNet weights exist for {available} only")
    arch.imagenet(model.features)
    return model


def reference_state(name: str, num_outputs: int, in_channels: int) -> dict[str, torch.Tensor]:
    """Names, shapes and dtypes of the state dict of architecture ``name``, on the meta device."""
    with torch.device("meta"):
        return architecture(name).network()(num_outputs, in_channels=in_channels).state_dict()
