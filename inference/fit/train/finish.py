"""After the epochs: validation figures into the card, held-out test metrics, the package on disk."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from inference.api import ModelCard, Preprocessing, Task
from inference.fit.card_md import render
from inference.fit.train.card import grouped_metrics, label_cards
from inference.fit.train.config import TrainConfig
from inference.fit.train.datasets import Sample
from inference.fit.train.distillation import distillation_metrics
from inference.fit.train.loop import predict
from inference.fit.train.transfer import initialisation
from inference.models.architectures import architecture_of
from inference.models.package import load_package, save_package

FP16_TOLERANCE = 0.005


def _save(cfg: TrainConfig, card: ModelCard, model, images, check_idx, multiclass: bool, log) -> ModelCard:
    """Write fp16 weights if asked and the probabilities move by < 0.005; fp32 otherwise."""
    if cfg.fp16:
        saved = save_package(cfg.out, card, model, dtype=torch.float16)
        _, back = load_package(cfg.out)
        ref = predict(model, images, check_idx, cfg.input_size, multiclass)
        half = predict(back, images, check_idx, cfg.input_size, multiclass)
        drift = float(np.abs(ref - half).max()) if ref.size else 0.0
        log(f"fp16 weights: max probability change {drift:.5f} on {len(check_idx)} validation images")
        if drift <= FP16_TOLERANCE:
            return saved
        log("fp16 changes probabilities too much: saving fp32")
    return save_package(cfg.out, card, model)


def finish(
    cfg: TrainConfig,
    model,
    task: Task,
    labels: tuple[str, ...],
    samples: list[Sample],
    images: np.ndarray,
    targets: np.ndarray,
    split: dict[str, np.ndarray],
    history: list[dict[str, float]],
    best_epoch: int,
    log,
) -> ModelCard:
    multiclass = task is Task.MULTICLASS
    val, test = split["val"], split["test"]
    val_probs = predict(model, images, val, cfg.input_size, multiclass)
    test_probs = predict(model, images, test, cfg.input_size, multiclass) if len(test) else None
    val_sources = [samples[i].source for i in val]
    cards = label_cards(
        labels, targets[val], val_probs, targets[test] if len(test) else None, cfg.min_positives, val_sources
    )
    metrics: dict[str, object] = {
        "selection": "best epoch by validation AUROC: mean over sources of the mean over "
        + (", ".join(cfg.select_labels) if cfg.select_labels else "all labels"),
        "best_epoch": best_epoch + 1,
        "epochs": int(history[-1]["epoch"]) if history else 0,
        "seconds_per_epoch": round(float(np.mean([h["epoch_s"] for h in history])), 1) if history else None,
        "shown_label_rule": f">= {cfg.min_positives} positives and negatives in validation and in test",
        "split": {k: int(len(v)) for k, v in split.items()},
        "initialisation": initialisation(cfg),
        **distillation_metrics(cfg),
        "validation": grouped_metrics(val_sources, labels, targets[val], val_probs, cards, 200),
    }
    if test_probs is not None:
        src = [samples[i].source for i in test]
        metrics["held_out_test"] = grouped_metrics(src, labels, targets[test], test_probs, cards, cfg.n_boot)
        views = [f"{samples[i].source}/{samples[i].view}" for i in test]
        if any(samples[i].view for i in test):
            with_view = np.array([bool(samples[i].view) for i in test])
            metrics["held_out_test_by_view"] = grouped_metrics(
                [v for v, k in zip(views, with_view, strict=True) if k], labels, targets[test][with_view],
                test_probs[with_view], cards, cfg.n_boot,
            )  # fmt: skip
    card = ModelCard(
        name=cfg.name or Path(cfg.out).name,
        version=cfg.version,
        architecture=architecture_of(model).name,
        task=task,
        preprocessing=Preprocessing.CHEXNET,
        labels=cards,
        weights_sha256="",
        input_size=cfg.input_size,
        description=cfg.description,
        training_data=tuple(cfg.training_data),
        metrics=metrics,
        recipe=cfg.recipe,
    )
    card = _save(cfg, card, model, images, val[:64], multiclass, log)
    work = Path(cfg.work)
    np.savez_compressed(
        work / "predictions.npz", val_idx=val, val_probs=val_probs, test_idx=test,
        test_probs=test_probs if test_probs is not None else np.zeros((0, len(labels))), targets=targets,
    )  # fmt: skip
    (work / "metrics.json").write_text(json.dumps(metrics, indent=1), encoding="utf-8")
    log(json.dumps(metrics.get("held_out_test", {}), indent=1))
    (Path(cfg.out) / "card.md").write_text(render(card), encoding="utf-8")
    log(f"wrote {cfg.out} (weights sha256 {card.weights_sha256[:12]}…)")
    return card
