"""What every network a model package holds shares: a last feature map, pooled into the image
embedding, read by one linear layer. Subclasses give the backbone (``features``), how its output is
reached (:meth:`forward_features`) and pooled (:meth:`pool`), and the layer Grad-CAM attributes to."""

from __future__ import annotations

import torch
from torch import nn


class PooledLinearHead(nn.Module):
    """Logits, one per label, from ``classifier(pool(forward_features(x)))``."""

    def __init__(self, features: nn.Module, num_features: int, num_outputs: int, in_channels: int) -> None:
        super().__init__()
        self.features = features
        self.classifier = nn.Linear(num_features, num_outputs)
        self.num_features = num_features
        self.in_channels = in_channels

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def pool(self, features: torch.Tensor) -> torch.Tensor:
        """The pooled features (N, num_features): what the classifier reads, and the image embedding."""
        raise NotImplementedError

    @property
    def cam_layer(self) -> nn.Module:
        """The layer Grad-CAM attributes to: the one whose output is the last feature map."""
        raise NotImplementedError

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.pool(features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def forward_with_embedding(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits and pooled features of one forward pass (``forward`` stays plain logits for Captum)."""
        pooled = self.pool(self.forward_features(x))
        return self.classifier(pooled), pooled

    def reset_classifier(self, num_outputs: int) -> None:
        """A fresh head for a new label set (transfer learning)."""
        self.classifier = nn.Linear(self.num_features, num_outputs)
