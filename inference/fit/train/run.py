"""A whole training run: data, split, cache, epochs with checkpoints, held-out test, model package."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Hashable
from pathlib import Path

import numpy as np
import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from inference.api import ModelCard, Task
from inference.fit.train import datasets as ds
from inference.fit.train.augment import AugmentConfig
from inference.fit.train.cache import load_images
from inference.fit.train.checkpoint import BEST, LAST, load_checkpoint, save_checkpoint
from inference.fit.train.config import TrainConfig
from inference.fit.train.distillation import load_teacher
from inference.fit.train.finish import finish
from inference.fit.train.hardware import use_amp
from inference.fit.train.loop import WarmupCosine, masked_bce, predict, softmax_ce, train_one_epoch
from inference.fit.train.sampling import balanced_weights, epoch_order
from inference.fit.train.selection import selection_score
from inference.fit.train.splits import split_by_patient
from inference.fit.train.transfer import initialisation, param_groups, set_trainable, train_mode
from inference.models.architectures import DEFAULT_ARCH, ChestNet, build
from inference.models.package import load_package


def _log_to(work: Path):
    work.mkdir(parents=True, exist_ok=True)
    logfile = (work / "train.log").open("a", encoding="utf-8")

    def log(msg: str) -> None:
        print(msg, flush=True)
        logfile.write(msg + "\n")
        logfile.flush()

    return log


def _excluded_names(paths: list[Path]) -> set[str]:
    names: set[str] = set()
    for p in paths:
        p = Path(p)
        names |= {f.name for f in p.iterdir()} if p.is_dir() else {p.name}
    return names


def load_samples(cfg: TrainConfig, log) -> tuple[list[ds.Sample], Task, tuple[str, ...]]:
    samples: list[ds.Sample] = []
    for spec in cfg.data:
        part = ds.read_dataset(spec, cfg.class_map)
        if cfg.max_images:
            rng = np.random.default_rng(cfg.seed)
            part = [part[i] for i in sorted(rng.permutation(len(part))[: cfg.max_images])]
        samples += part
        log(f"{spec}: {len(part)} images, {len({s.patient for s in part})} patients")
    if cfg.exclude:
        samples, dropped = ds.exclude(samples, _excluded_names(cfg.exclude))
        log(f"excluded {len(dropped)} patients with bundled sample images: {sorted(dropped)}")
    multiclass = cfg.task == "multiclass" or (
        cfg.task == "auto"
        and cfg.class_map is None
        and all(Path(d.rpartition("=")[2]).is_dir() for d in cfg.data)
    )
    task = Task.MULTICLASS if multiclass else Task.MULTILABEL
    labels = cfg.labels or ds.label_set(samples, 1 if multiclass else cfg.min_label_count)
    if multiclass:
        samples = [s for s in samples if len(s.findings) == 1]
    return samples, task, tuple(labels)


def _model(cfg: TrainConfig, labels: tuple[str, ...], log) -> ChestNet:
    if cfg.init is None:
        log(f"{cfg.arch or DEFAULT_ARCH}, initialised {initialisation(cfg)}")
        return build(cfg.arch or DEFAULT_ARCH, len(labels), pretrained=cfg.pretrained)
    if cfg.pretrained:
        raise ValueError(f"--pretrained {cfg.pretrained} starts a new network: it cannot be used with --init")
    card, model = load_package(cfg.init)
    if cfg.arch and cfg.arch != card.architecture:
        raise ValueError(f"--arch {cfg.arch} but the --init package {cfg.init} is {card.architecture}")
    old = [lab.name for lab in card.labels]
    if old != list(labels):
        head = model.classifier
        model.reset_classifier(len(labels))
        with torch.no_grad():
            for j, name in enumerate(labels):
                if name in old:  # keep what the source model knew about a label of the same name
                    model.classifier.weight[j] = head.weight[old.index(name)]
                    model.classifier.bias[j] = head.bias[old.index(name)]
        log(f"new head {old} -> {list(labels)}")
    return model


def train(cfg: TrainConfig) -> ModelCard:
    """Run training as configured; writes the package to ``cfg.out`` and returns its card."""
    work = Path(cfg.work)
    log = _log_to(work)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    samples, task, labels = load_samples(cfg, log)
    multiclass = task is Task.MULTICLASS
    log(f"task {task.value}, labels {list(labels)}")
    distill = None
    if cfg.teacher is not None:
        distill = load_teacher(cfg.teacher, labels, task, cfg.distill_weight, cfg.distill_temperature)
        log(f"distilling from {cfg.teacher} (weight {cfg.distill_weight}, T {cfg.distill_temperature})")
    by_patient = split_by_patient(samples, cfg.val_fraction, cfg.test_fraction, cfg.seed)
    t0 = time.perf_counter()
    images, skipped = load_images([s.path for s in samples], cfg.input_size, threads=max(2, cfg.threads))
    log(f"cached {len(samples)} images at {images.shape[1]} px in {time.perf_counter() - t0:.0f} s")
    if skipped:
        log(f"skipped {len(skipped)} images (see {work / 'skipped.csv'}):")
        with (work / "skipped.csv").open("w", encoding="utf-8") as f:
            f.write("path,reason\n")
            for i, why in skipped.items():
                f.write(f"{samples[i].path},{why}\n")
                log(f"  {samples[i].path.name}: {why}")
    split = {k: np.array([i for i in v if i not in skipped], dtype=int) for k, v in by_patient.items()}
    (work / "split.json").write_text(
        json.dumps({k: [str(samples[i].path) for i in v] for k, v in split.items()}, indent=1),
        encoding="utf-8",
    )
    targets = (ds.multiclass_targets if multiclass else ds.multilabel_targets)(samples, labels)
    sources = [s.source for s in samples]
    log(" ".join(f"{k}: {len(v)}" for k, v in split.items()))

    tr = split["train"]
    train_images, train_targets = images[tr], targets[tr]
    weights = None
    if cfg.balance == "sampler":
        strata: list[Hashable] = [
            (s.findings and sorted(s.findings)[0] if multiclass else bool(s.findings & set(labels)))
            for s in (samples[i] for i in tr)
        ]
        if cfg.balance_views:
            strata = [(k, samples[i].view) for k, i in zip(strata, tr, strict=True)]
        weights = balanced_weights([sources[i] for i in tr], strata)
    pos_weight = class_weight = None
    if cfg.balance == "weighted":
        if multiclass:
            freq = train_targets.sum(0)
            class_weight = torch.tensor(freq.sum() / np.maximum(freq, 1) / len(labels), dtype=torch.float32)
        else:
            pos = np.nansum(train_targets, 0)
            neg = np.sum(~np.isnan(train_targets), 0) - pos
            pos_weight = torch.tensor(np.clip(neg / np.maximum(pos, 1), 1.0, 20.0), dtype=torch.float32)

    def loss_fn(logits, y):
        if multiclass:
            return softmax_ce(logits, y, class_weight, cfg.label_smoothing)
        return masked_bce(logits, y, pos_weight, cfg.label_smoothing)

    model = _model(cfg, labels, log)
    backbone_scale = cfg.backbone_lr_scale
    optimizer = torch.optim.AdamW(
        param_groups(model, cfg.lr, backbone_scale), lr=cfg.lr, weight_decay=cfg.weight_decay
    )
    epoch_size = cfg.epoch_size or len(tr)
    steps_per_epoch = max(1, epoch_size // cfg.batch_size)
    steps = steps_per_epoch * cfg.epochs
    schedule = WarmupCosine(steps, int(cfg.warmup * steps))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    ema = None
    if cfg.ema:
        ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema), use_buffers=True)
    scored = ema.module if ema is not None else model  # what validation selects and the package ships
    start, best_score, best_epoch, history = 0, -np.inf, -1, []
    if cfg.resume and (work / LAST).is_file():
        state = load_checkpoint(work / LAST)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        if ema is not None:
            ema.load_state_dict(state["ema"])
        schedule.total = steps  # the configured length; the time budget below may shorten it again
        start, best_score, best_epoch = state["epoch"] + 1, state["best_score"], state["best_epoch"]
        history = list(state["history"])
        log(f"resumed after epoch {start} (best {best_score:.4f} at epoch {best_epoch + 1})")
    amp = use_amp(cfg.amp)
    aug = AugmentConfig(hflip=cfg.hflip, aspect=cfg.aspect)
    val = split["val"]
    config_dict = json.loads(json.dumps(dataclasses.asdict(cfg), default=str))
    t_run = time.perf_counter()
    planned = round(schedule.total / steps_per_epoch)
    for epoch in range(start, cfg.epochs):
        t_epoch = time.perf_counter()
        if cfg.max_minutes and epoch > start:
            per_epoch = (t_epoch - t_run) / (epoch - start)
            fit = int((cfg.max_minutes * 60 - (t_epoch - t_run)) // per_epoch)
            if epoch + fit < planned:  # shorten the cosine so that it ends within the time budget
                planned = epoch + fit
                schedule.total = max(scheduler.last_epoch + 1, planned * steps_per_epoch)
                log(f"time budget {cfg.max_minutes} min: {planned} epochs in all, schedule shortened")
        if epoch >= planned:
            break
        set_trainable(model, cfg.strategy, epoch, cfg.head_epochs)
        train_mode(model)
        rng = np.random.default_rng([cfg.seed, epoch])
        order = epoch_order(len(tr), epoch_size, rng, weights)
        log(f"epoch {epoch + 1}/{cfg.epochs}  lr {scheduler.get_last_lr()[-1]:.2e}  amp {amp}")
        loss = train_one_epoch(
            model, train_images, train_targets, order, loss_fn=loss_fn, optimizer=optimizer,
            scheduler=scheduler, input_size=cfg.input_size, batch_size=cfg.batch_size, rng=rng, aug=aug,
            amp=amp, ema=ema, distill=distill, log=log,
        )  # fmt: skip
        t_train = time.perf_counter() - t_epoch
        probs = predict(scored, images, val, cfg.input_size, multiclass)
        score, detail = selection_score(
            targets[val], probs, [sources[i] for i in val], labels, cfg.select_labels
        )
        is_best = score > best_score
        if is_best:
            best_score, best_epoch = score, epoch
        seconds = time.perf_counter() - t_epoch
        history.append(
            {"epoch": epoch + 1, "loss": loss, "val_score": score, "train_s": t_train, "epoch_s": seconds}
        )
        save_checkpoint(
            work, model=model, optimizer=optimizer, scheduler=scheduler, epoch=epoch, best_score=best_score,
            best_epoch=best_epoch, history=history, config=config_dict, is_best=is_best, ema=ema,
        )  # fmt: skip
        log(
            f"epoch {epoch + 1}: loss {loss:.4f}  val {detail}  score {score:.4f}"
            f"{'  best' if is_best else ''}"
            f"  ({t_train:.0f} s train, {seconds:.0f} s total)"
        )
    if (work / BEST).is_file():
        scored.load_state_dict(load_checkpoint(work / BEST)["model"])
    log(f"best epoch {best_epoch + 1} (validation score {best_score:.4f})")
    return finish(cfg, scored, task, labels, samples, images, targets, split, history, best_epoch, log)
