"""``cxr-triage train``: train or fine-tune a model package (DenseNet-121 or EfficientNet-Lite0)."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from inference.cli.commands.common import parsed
from inference.fit.train.config import STRATEGIES, TrainConfig
from inference.models.registry import ARCHITECTURES


def class_map_of(items: list[str] | None) -> dict[str, str] | None:
    """``--class-map FOLDER=FINDING`` options as {folder: finding}; a bare ``FOLDER`` maps to ''."""
    if not items:
        return None
    return {folder: finding for folder, _, finding in (item.partition("=") for item in items)}


def _labels(text: str | None) -> tuple[str, ...] | None:
    return tuple(s.strip() for s in text.split(",") if s.strip()) if text else None


def _range(text: str) -> tuple[float, float]:
    low, _, high = text.partition(",")
    try:
        pair = (float(low), float(high or low))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected MIN,MAX, got {text!r}") from None
    if not 0 < pair[0] <= pair[1]:
        raise argparse.ArgumentTypeError(f"expected 0 < MIN <= MAX, got {text!r}")
    return pair


def _decay(text: str) -> float:
    value = parsed(text, float, "a number from 0 to below 1")
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to below 1, got {text!r}")
    return value


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train or fine-tune a model package",
        description="Datasets: an NIH-style CSV (image, '|'-separated findings, patient_id, view) for "
        "multi-label, or a folder of class folders for mutually exclusive classes. Splits are "
        "patient-disjoint and seeded.",
    )
    p.add_argument(
        "--data",
        action="append",
        required=True,
        metavar="[SOURCE=]PATH",
        help="CSV or class-folder dataset (repeatable)",
    )
    p.add_argument("--out", type=Path, required=True, help="model package folder to write")
    p.add_argument("--work", type=Path, help="checkpoints and logs (default: runs/<out name>)")
    p.add_argument("--init", type=Path, help="start from this model package (default: from scratch)")
    p.add_argument(
        "--arch",
        choices=tuple(ARCHITECTURES),
        help="network to train (default: the --init package's, else densenet121)",
    )
    p.add_argument(
        "--pretrained",
        choices=("imagenet",),
        help="start from ImageNet backbone weights, fresh head (efficientnet_lite0 only; not with --init)",
    )
    p.add_argument(
        "--strategy",
        choices=STRATEGIES,
        help="scratch (default without --init), head (frozen backbone), "
        "finetune (default with --init), gradual (head, then last blocks)",
    )
    p.add_argument("--head-epochs", type=int, default=1, help="gradual: head-only epochs before unfreezing")
    p.add_argument(
        "--class-map",
        action="append",
        metavar="FOLDER=FINDING",
        help="use class folders as multi-label findings ('NORMAL=' for none)",
    )
    p.add_argument("--task", choices=("auto", "multilabel", "multiclass"), default="auto")
    p.add_argument(
        "--labels",
        help="comma-separated output labels (default: findings with >= --min-label-count positives)",
    )
    p.add_argument("--min-label-count", type=int, default=50)
    p.add_argument(
        "--select-labels", help="comma-separated labels whose validation AUROC selects the best epoch"
    )
    p.add_argument(
        "--min-positives", type=int, default=10, help="validation and test positives needed to show a label"
    )
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument(
        "--epoch-size", type=int, default=0, help="images per epoch (default: training split size)"
    )
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, help="peak learning rate (default 1e-4 for finetune, else 1e-3)")
    p.add_argument("--backbone-lr-scale", type=float, help="backbone lr multiplier (default 1; gradual 0.1)")
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--warmup", type=float, default=0.05, help="warm-up fraction of all steps (then cosine)")
    p.add_argument("--label-smoothing", type=float, default=0.0)
    p.add_argument("--input-size", type=int, default=224)
    p.add_argument("--val-fraction", type=float, default=0.15)
    p.add_argument("--test-fraction", type=float, default=0.15)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--balance",
        choices=("sampler", "weighted", "none"),
        default="sampler",
        help="class imbalance: balanced sampling (per source, per class) or weighted loss",
    )
    p.add_argument(
        "--balance-views", action="store_true", help="sampler: also balance PA/AP views within each class"
    )
    p.add_argument(
        "--hflip", action="store_true", help="random horizontal flips (off: the heart is on the left)"
    )
    p.add_argument(
        "--aspect",
        type=_range,
        default=(1.0, 1.0),
        metavar="MIN,MAX",
        help="random horizontal stretch before the crop, e.g. 1,1.6 for sources squashed to a square",
    )
    p.add_argument(
        "--ema",
        type=_decay,
        default=0.0,
        metavar="DECAY",
        help="validate and ship an exponential moving average of the weights (e.g. 0.99; 0: none)",
    )
    p.add_argument(
        "--exclude",
        action="append",
        type=Path,
        default=[],
        help="file or folder whose images' patients are left out",
    )
    p.add_argument(
        "--amp",
        choices=("auto", "on", "off"),
        default="auto",
        help="bfloat16 autocast (auto: only if the CPU has native bf16)",
    )
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint in --work")
    p.add_argument("--max-images", type=int, default=0, help="per dataset, for quick trials")
    p.add_argument("--fp16", action="store_true", help="store fp16 weights if probabilities move < 0.005")
    p.add_argument("--name", default="")
    p.add_argument("--version", default="0.1.0")
    p.add_argument("--description", default="")
    p.add_argument(
        "--training-data", action="append", default=[], help="a data source line for the card (repeatable)"
    )
    p.add_argument("--n-boot", type=int, default=1000)
    p.add_argument("--max-minutes", type=float, default=0.0, help="stop before an epoch that would pass this")
    p.add_argument(
        "--teacher",
        type=Path,
        help="distil from this multi-label model package (any architecture), on the labels both share",
    )
    p.add_argument(
        "--distill-weight",
        type=float,
        default=0.5,
        metavar="W",
        help="with --teacher: loss = (1 - W) x the label loss + W x the distillation loss",
    )
    p.add_argument(
        "--distill-temperature",
        type=float,
        default=2.0,
        metavar="T",
        help="with --teacher: both models' logits are divided by T (the loss is scaled by T squared)",
    )
    p.add_argument("--recipe", default="", help="the command to record in the card (default: this one)")
    p.set_defaults(func=run)
    _ACTIONS[:] = p._actions


_ACTIONS: list[argparse.Action] = []


def _command_line(args: argparse.Namespace) -> str:
    """The command that reproduces this run: every option that differs from its default."""
    parts = ["cxr-triage", "train"]
    for action in _ACTIONS:
        if not action.option_strings or action.dest in ("help", "recipe"):
            continue
        value = getattr(args, action.dest, None)
        if value == action.default or value is None:
            continue
        flag = action.option_strings[-1]
        if isinstance(action, argparse._StoreTrueAction):
            parts.append(flag)
        elif isinstance(value, list):
            for v in value:
                parts += [flag, str(v)]
        elif isinstance(value, tuple):
            parts += [flag, ",".join(f"{v:g}" for v in value)]
        else:
            parts += [flag, str(value)]
    return shlex.join(parts)


def config_from_args(args: argparse.Namespace):
    strategy = args.strategy or ("finetune" if args.init else "scratch")
    lr = args.lr if args.lr is not None else (1e-4 if strategy == "finetune" else 1e-3)
    scale = (
        args.backbone_lr_scale
        if args.backbone_lr_scale is not None
        else (0.1 if strategy == "gradual" else 1.0)
    )
    return TrainConfig(
        data=args.data, out=args.out, work=args.work or Path("runs") / args.out.name,
        class_map=class_map_of(args.class_map), task=args.task, labels=_labels(args.labels),
        min_label_count=args.min_label_count, init=args.init, arch=args.arch, pretrained=args.pretrained,
        strategy=strategy, head_epochs=args.head_epochs,
        epochs=args.epochs, epoch_size=args.epoch_size, batch_size=args.batch_size, lr=lr,
        backbone_lr_scale=scale,
        weight_decay=args.weight_decay, warmup=args.warmup, label_smoothing=args.label_smoothing,
        input_size=args.input_size, val_fraction=args.val_fraction, test_fraction=args.test_fraction,
        seed=args.seed,
        balance=args.balance, balance_views=args.balance_views, hflip=args.hflip, aspect=args.aspect,
        ema=args.ema,
        select_labels=_labels(args.select_labels), min_positives=args.min_positives, exclude=args.exclude,
        amp=args.amp, threads=args.threads, resume=args.resume, max_images=args.max_images, fp16=args.fp16,
        name=args.name, version=args.version, description=args.description,
        training_data=tuple(args.training_data), n_boot=args.n_boot,
        max_minutes=args.max_minutes, recipe=args.recipe or _command_line(args),
        teacher=args.teacher, distill_weight=args.distill_weight,
        distill_temperature=args.distill_temperature,
    )  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from inference.fit.train.run import train  # torch: only when the command runs

    card = train(config_from_args(args))
    print(f"{args.out}: {', '.join(card.shown_labels) or 'no label had enough validation positives to show'}")
    return 0


if __name__ == "__main__":  # ``python -m inference.cli.commands.train train ...`` == ``cxr-triage train ...``
    parser = argparse.ArgumentParser(prog="cxr-triage")
    register(parser.add_subparsers(dest="command", required=True))
    arguments = parser.parse_args()
    sys.exit(arguments.func(arguments))
