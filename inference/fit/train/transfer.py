"""Transfer strategies: which parameters train, and at which learning rate (every architecture)."""

from __future__ import annotations

from torch import nn

from inference.fit.train.config import STRATEGIES, TrainConfig
from inference.models.architectures import DEFAULT_ARCH, ChestNet, architecture_of


def initialisation(cfg: TrainConfig) -> str:
    """Where training starts, in words for the log and the card."""
    if cfg.init is not None:
        return f"from the model package {cfg.init}"
    if cfg.pretrained:
        return f"from {cfg.pretrained} weights ({cfg.arch or DEFAULT_ARCH} backbone), fresh head"
    return "from scratch (random weights)"


def set_trainable(model: ChestNet, strategy: str, epoch: int = 0, head_epochs: int = 1) -> None:
    """Set ``requires_grad`` for ``strategy`` at ``epoch`` (0-based).

    scratch/finetune: everything trains. head: only the classifier. gradual: the classifier for
    ``head_epochs`` epochs, then also the architecture's last blocks (DenseNet-121: the last dense
    block and norm5; EfficientNet-Lite0: the last two stages and the head convolution).
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; choose from {STRATEGIES}")
    everything = strategy in ("scratch", "finetune")
    unfreeze_last = strategy == "gradual" and epoch >= head_epochs
    last_blocks = architecture_of(model).last_blocks
    for name, p in model.features.named_parameters():
        p.requires_grad_(everything or (unfreeze_last and name.startswith(last_blocks)))
    for p in model.classifier.parameters():
        p.requires_grad_(True)


def train_mode(model: ChestNet) -> None:
    """``model.train()`` but frozen feature layers stay in eval mode (BatchNorm statistics frozen)."""
    model.train()
    for module in model.features.modules():
        params = list(module.parameters(recurse=False))
        if params and not any(p.requires_grad for p in params):
            module.eval()


def param_groups(model: ChestNet, lr: float, backbone_lr_scale: float) -> list[dict]:
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
