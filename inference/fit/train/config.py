"""Everything one training run needs, as one serialisable record."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

STRATEGIES = ("scratch", "head", "finetune", "gradual")  # how `train` starts from a package


@dataclass
class TrainConfig:
    data: list[str]  # "[SOURCE=]PATH" each: a CSV (multi-label) or a folder of class folders
    out: Path  # the model package to write
    work: Path  # checkpoints, split lists, logs
    class_map: dict[str, str] | None = None  # folder -> multi-label finding ('' = none)
    task: str = "auto"  # auto | multilabel | multiclass
    labels: tuple[str, ...] | None = None  # default: findings with >= min_label_count positives
    min_label_count: int = 50
    init: Path | None = None  # a model package to start from
    arch: str | None = None  # densenet121 | efficientnet_lite0; None: the --init package's, else densenet121
    pretrained: str | None = None  # "imagenet": ImageNet backbone weights, a fresh head (not with init)
    strategy: str = "scratch"  # scratch | head | finetune | gradual
    head_epochs: int = 1
    epochs: int = 10
    epoch_size: int = 0  # images per epoch; 0 = the training split's size
    batch_size: int = 16
    lr: float = 1e-3
    backbone_lr_scale: float = 1.0
    weight_decay: float = 1e-4
    warmup: float = 0.05  # fraction of all steps
    label_smoothing: float = 0.0
    input_size: int = 224
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    seed: int = 0
    balance: str = "sampler"  # sampler | weighted | none
    balance_views: bool = False
    hflip: bool = False
    aspect: tuple[float, float] = (1.0, 1.0)  # horizontal stretch range (augmentation)
    ema: float = 0.0  # decay of an exponential moving average of the weights (0: none)
    select_labels: tuple[str, ...] | None = None
    min_positives: int = 10
    exclude: list[Path] = field(default_factory=list)
    amp: str = "auto"  # auto | on | off
    threads: int = 0
    resume: bool = False
    max_images: int = 0  # per source, for smoke runs; 0 = all
    fp16: bool = False
    name: str = ""
    version: str = "0.1.0"
    description: str = ""
    training_data: tuple[str, ...] = ()
    recipe: str = ""
    n_boot: int = 1000
    max_minutes: float = 0.0  # stop (keeping the best epoch) before an epoch that would pass this
    teacher: Path | None = None  # a model package to distil from (multi-label; its shared labels by name)
    distill_weight: float = 0.5  # of the distillation loss; the hard loss gets 1 - this
    distill_temperature: float = 2.0
