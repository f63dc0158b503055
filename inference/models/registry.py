"""The one list of each kind of thing a model package may name: its architecture (a card's
``architecture``) and the published checkpoint formats ``model import`` reads.

Kept free of torch, so that the reading station can check a card, and a parser list its choices,
without importing a network: each entry names the module that implements it, imported when first used."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import Any


@dataclass(frozen=True)
class Architecture:
    name: str
    module: str  # where the network class lives (imported only when a network is built)
    network_class: str
    stem: str  # state-dict key of the first convolution (its weight's dim 1 = input channels)
    last_blocks: tuple[str, ...]  # parameter-name prefixes under ``features`` that "gradual" unfreezes
    imagenet_loader: str = ""  # the module's function loading ImageNet weights into ``features``, if any

    def network(self) -> Any:
        """The network class (its module imported now)."""
        return getattr(importlib.import_module(self.module), self.network_class)

    def load_imagenet(self, features: Any) -> None:
        getattr(importlib.import_module(self.module), self.imagenet_loader)(features)


ARCHITECTURES = {
    a.name: a
    for a in (
        Architecture(
            "densenet121",
            "inference.models.densenet",
            "CheXDenseNet",
            "features.conv0.weight",
            ("denseblock4.", "norm5."),
        ),
        Architecture(
            "efficientnet_lite0",
            "inference.models.efficientnet",  # and timm (about 0.4 s): only when such a network is built
            "CheXEfficientNetLite0",
            "features.conv_stem.weight",
            ("blocks.5.", "blocks.6.", "conv_head.", "bn2."),  # the last two stages and the head convolution
            "load_imagenet_backbone",
        ),
    )
}


@dataclass(frozen=True)
class CheckpointFormat:
    name: str  # what `model import` and the viewer's chooser call it
    title: str  # one line for a reader choosing between formats
    module: str  # defines ``convert(obj, source) -> Converted`` and ``card(converted, ...) -> ModelCard``

    def reader(self) -> ModuleType:
        return importlib.import_module(self.module)


CHECKPOINT_FORMATS = {
    f.name: f
    for f in (
        CheckpointFormat(
            "chexnet",
            "CheXNet (arnoweng/CheXNet): DenseNet-121, 3 channels, ChestX-ray14 labels",
            "inference.models.chexnet_checkpoint",
        ),
        CheckpointFormat(
            "xrv",
            "torchxrayvision DenseNet-121: 1 channel, its own pathologies and thresholds",
            "inference.models.xrv_checkpoint",
        ),
    )
}
