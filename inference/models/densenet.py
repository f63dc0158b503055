"""DenseNet-121, CheXNet style, with the hooks transfer learning and Grad-CAM need.

The layer names are torchvision's (``features.*``, ``classifier``), so checkpoints map onto it
directly. Unlike torchvision's forward, the ReLU after ``features.norm5`` is not in place:
an in-place ReLU there breaks backward hooks on ``norm5`` (pytorch-grad-cam #147).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import densenet121

from inference.models.head import PooledLinearHead

NUM_FEATURES = 1024


class CheXDenseNet(PooledLinearHead):
    """DenseNet-121 returning logits, one per label."""

    features: nn.Sequential  # torchvision's DenseNet-121 features (conv0 ... norm5)

    def __init__(self, num_outputs: int, in_channels: int = 3) -> None:
        features = densenet121(weights=None).features
        if in_channels != 3:
            features.conv0 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
        super().__init__(features, NUM_FEATURES, num_outputs, in_channels)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def pool(self, features: torch.Tensor) -> torch.Tensor:
        """The pooled norm5 features (N, 1024): what the classifier reads, and the image embedding."""
        return F.adaptive_avg_pool2d(F.relu(features), 1).flatten(1)

    @property
    def cam_layer(self) -> nn.Module:
        """The layer Grad-CAM attributes to: the last feature map (7x7 at 224 input)."""
        return self.features.get_submodule("norm5")


_FLOATS = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def reference_state(num_outputs: int, in_channels: int) -> dict[str, torch.Tensor]:
    """Names, shapes and dtypes of :class:`CheXDenseNet`'s state dict, on the meta device (no memory)."""
    with torch.device("meta"):
        return CheXDenseNet(num_outputs, in_channels=in_channels).state_dict()


def state_problems(state: Mapping[str, torch.Tensor], reference: Mapping[str, torch.Tensor]) -> list[str]:
    """Why ``state`` cannot be loaded where ``reference`` is expected: missing or unexpected keys,
    shapes, and dtypes (any floating point, else the reference's own)."""
    missing = sorted(set(reference) - set(state))
    unexpected = sorted(set(state) - set(reference))
    present = [(k, state[k], v) for k, v in reference.items() if k in state]
    wrong = [f"{k} {tuple(s.shape)} != {tuple(r.shape)}" for k, s, r in present if s.shape != r.shape]
    dtypes = [f"{k} {s.dtype}" for k, s, r in present if s.dtype not in _FLOATS and s.dtype != r.dtype]
    problems = [f"{len(missing)} missing key(s) {preview(missing)}"] if missing else []
    problems += [f"{len(unexpected)} unexpected key(s) {preview(unexpected)}"] if unexpected else []
    problems += [f"shape mismatch {preview(wrong)}"] if wrong else []
    problems += [f"unsupported dtype {preview(dtypes)}"] if dtypes else []
    return problems


def preview(items: Sequence[str], n: int = 6) -> str:
    shown = ", ".join(items[:n])
    return f"[{shown}{', …' if len(items) > n else ''}]"
