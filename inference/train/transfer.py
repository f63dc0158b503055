"""Transfer strategies: which DenseNet-121 parameters train, and at which learning rate."""

from __future__ import annotations

from torch import nn

from inference.models.densenet import CheXDenseNet
from inference.options import STRATEGIES

# The modules "gradual" unfreezes after the head-only epochs: the last dense block and norm5.
LAST_BLOCKS = ("denseblock4", "norm5")


def set_trainable(model: CheXDenseNet, strategy: str, epoch: int = 0, head_epochs: int = 1) -> None:
    """Set ``requires_grad`` for ``strategy`` at ``epoch`` (0-based).

    scratch/finetune: everything trains. head: only the classifier. gradual: the classifier for
    ``head_epochs`` epochs, then also the last dense block and norm5.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; choose from {STRATEGIES}")
    everything = strategy in ("scratch", "finetune")
    unfreeze_last = strategy == "gradual" and epoch >= head_epochs
    for name, module in model.features.named_children():
        trainable = everything or (unfreeze_last and name in LAST_BLOCKS)
        for p in module.parameters():
            p.requires_grad_(trainable)
    for p in model.classifier.parameters():
        p.requires_grad_(True)


def train_mode(model: CheXDenseNet) -> None:
    """``model.train()`` but frozen feature modules stay in eval mode (BatchNorm statistics frozen)."""
    model.train()
    for module in model.features.children():
        params = list(module.parameters())
        if params and not any(p.requires_grad for p in params):
            module.eval()


def param_groups(model: CheXDenseNet, lr: float, backbone_lr_scale: float) -> list[dict]:
    """Two groups: backbone at ``lr * backbone_lr_scale``, head at ``lr``. No decay on BN and biases."""
    groups: dict[str, list[nn.Parameter]] = {"bb": [], "bb_nd": [], "head": [], "head_nd": []}
    for name, p in model.named_parameters():
        part = "head" if name.startswith("classifier") else "bb"
        groups[part + ("_nd" if p.ndim == 1 else "")].append(p)
    return [
        {"params": groups["bb"], "lr": lr * backbone_lr_scale, "name": "backbone"},
        {"params": groups["bb_nd"], "lr": lr * backbone_lr_scale, "weight_decay": 0.0, "name": "backbone"},
        {"params": groups["head"], "lr": lr, "name": "head"},
        {"params": groups["head_nd"], "lr": lr, "weight_decay": 0.0, "name": "head"},
    ]
