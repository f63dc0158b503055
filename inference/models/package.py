"""A model package is a folder: ``model.safetensors`` + ``card.json``.

Loading never unpickles: weights are safetensors, the card is JSON, and the weights' sha256 is
checked against the card before the model is built.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from inference.api import LabelCard, ModelCard, Preprocessing, Task, ValidationCurve
from inference.models.densenet import CheXDenseNet

WEIGHTS = "model.safetensors"
CARD = "card.json"


class PackageError(Exception):
    """A model package is missing, incomplete, or its weights do not match its card."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def card_to_dict(card: ModelCard) -> dict[str, Any]:
    out = dataclasses.asdict(card)
    out["task"] = card.task.value
    out["preprocessing"] = card.preprocessing.value
    return out


def card_from_dict(data: dict[str, Any]) -> ModelCard:
    labels = []
    for lab in data["labels"]:
        curve = lab.get("curve")
        labels.append(
            LabelCard(
                name=lab["name"],
                trained=bool(lab.get("trained", True)),
                operating_points={k: float(v) for k, v in lab.get("operating_points", {}).items()},
                auroc=lab.get("auroc"),
                n_positive=int(lab.get("n_positive", 0)),
                n_negative=int(lab.get("n_negative", 0)),
                curve=ValidationCurve(**{k: tuple(v) for k, v in curve.items()}) if curve else None,
            )
        )
    fields = {f.name for f in dataclasses.fields(ModelCard)}
    rest = {k: v for k, v in data.items() if k in fields and k not in ("labels", "task", "preprocessing")}
    rest["training_data"] = tuple(rest.get("training_data", ()))
    return ModelCard(
        labels=tuple(labels),
        task=Task(data["task"]),
        preprocessing=Preprocessing(data["preprocessing"]),
        **rest,
    )


def read_card(package: Path) -> ModelCard:
    path = Path(package) / CARD
    if not path.is_file():
        raise PackageError(f"{package} is not a model package: no {CARD}")
    try:
        return card_from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (KeyError, TypeError, ValueError) as exc:
        raise PackageError(f"{path}: invalid card ({exc})") from exc


def build_model(card: ModelCard) -> CheXDenseNet:
    if card.architecture != "densenet121":
        raise PackageError(f"unsupported architecture {card.architecture!r}")
    channels = 1 if card.preprocessing is Preprocessing.XRV else 3
    return CheXDenseNet(len(card.labels), in_channels=channels)


def load_package(package: Path) -> tuple[ModelCard, CheXDenseNet]:
    """Card and model in eval mode, after checking the weights against the card's sha256."""
    package = Path(package)
    card = read_card(package)
    weights = package / WEIGHTS
    if not weights.is_file():
        raise PackageError(f"{package}: no {WEIGHTS}")
    actual = sha256_of(weights)
    if actual != card.weights_sha256:
        raise PackageError(
            f"{weights}: sha256 {actual[:12]}… does not match the card's {card.weights_sha256[:12]}…"
        )
    model = build_model(card)
    state = {k: v.float() for k, v in load_file(str(weights)).items()}
    model.load_state_dict(state)
    return card, model.eval()


def save_package(
    package: Path, card: ModelCard, model: torch.nn.Module, dtype: torch.dtype = torch.float32
) -> ModelCard:
    """Write weights and card; returns the card with the weights' sha256 filled in."""
    package = Path(package)
    package.mkdir(parents=True, exist_ok=True)
    state = {
        k: v.detach().to(dtype).contiguous() for k, v in model.state_dict().items() if v.is_floating_point()
    }
    state |= {k: v.detach().contiguous() for k, v in model.state_dict().items() if not v.is_floating_point()}
    save_file(state, str(package / WEIGHTS))
    card = dataclasses.replace(card, weights_sha256=sha256_of(package / WEIGHTS))
    (package / CARD).write_text(json.dumps(card_to_dict(card), indent=2) + "\n", encoding="utf-8")
    return card
