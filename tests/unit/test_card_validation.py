"""Every bad model package is one clear PackageError naming each problem, field and value.

Each hostile package is a copy of the random test package with its card or weights edited here.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file, save_file

from inference.api import ModelCard
from inference.models.package import (
    CARD,
    WEIGHTS,
    PackageError,
    build_model,
    load_package,
    read_card,
    save_package,
)

Card = dict[str, Any]


@pytest.fixture
def package(random_package: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(random_package, tmp_path / "pkg"))


def edit_card(package: Path, change: Callable[[Card], object]) -> None:
    card = json.loads((package / CARD).read_text())
    change(card)
    (package / CARD).write_text(json.dumps(card))  # json writes NaN and Infinity as they come


def edit_weights(package: Path, change: Callable[[dict[str, torch.Tensor]], object]) -> None:
    """Rewrite the weights and give the card their sha256: only the weights' content is wrong."""
    state = load_file(str(package / WEIGHTS))
    change(state)
    save_file(state, str(package / WEIGHTS))
    sha = hashlib.sha256((package / WEIGHTS).read_bytes()).hexdigest()
    edit_card(package, lambda card: card.update(weights_sha256=sha))


def refusal(load: Callable[[Path], object], package: Path) -> str:
    with pytest.raises(PackageError) as caught:
        load(package)
    return str(caught.value)


# ------------------------------------------------------------------------------------ card fields


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("input_size", 0, "card.json: input_size must be a positive integer (got 0)"),
        ("input_size", -224, "input_size must be a positive integer (got -224)"),
        ("input_size", "224", "input_size must be a positive integer (got '224')"),
        ("input_size", 224.5, "input_size must be a positive integer (got 224.5)"),
        ("input_size", True, "input_size must be a positive integer (got True)"),
        ("input_size", 8, "input_size must be from 32 to 2048 (got 8)"),
        ("task", "binary", "task must be one of 'multilabel', 'multiclass' (got 'binary')"),
        ("preprocessing", "imagenet", "preprocessing must be one of 'chexnet', 'xrv' (got 'imagenet')"),
        (
            "architecture",
            "resnet50",
            "architecture must be one of 'densenet121', 'efficientnet_lite0' (got 'resnet50')",
        ),
        (
            "labels",
            "Atelectasis",
            "labels must be a non-empty list, one entry per output (got 'Atelectasis')",
        ),
        ("labels", [], "labels must be a non-empty list, one entry per output (got [])"),
        (
            "weights_sha256",
            "abc",
            "weights_sha256 must be a sha256: 64 lowercase hexadecimal digits (got 'abc')",
        ),
        ("name", " ", "name must be a non-empty string (got ' ')"),
        ("training_data", "NIH", "training_data must be a list of strings (got 'NIH')"),
        ("metrics", [1], "metrics must be a JSON object (got [1])"),
        (
            "default_operating_point",
            "f1",
            "default_operating_point 'f1' is missing from the operating points of trained label(s) "
            "Atelectasis, Cardiomegaly",
        ),
    ],
)
def test_bad_field_is_named_with_its_value(package: Path, field: str, value: object, expected: str) -> None:
    edit_card(package, lambda card: card.update({field: value}))
    assert expected in refusal(read_card, package)


def _set_label(index: int, key: str, value: object) -> Callable[[Card], object]:
    return lambda card: card["labels"][index].update({key: value})


def _set_point(index: int, value: float) -> Callable[[Card], object]:
    return lambda card: card["labels"][index]["operating_points"].update(youden=value)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda card: card["labels"].__setitem__(0, "Atelectasis"),
            "labels[0] must be an object with a name",
        ),
        (lambda card: card["labels"][0].pop("name"), "card.json: labels[0]: name is missing"),
        (
            _set_label(1, "trained", "yes"),
            "labels[1] (Cardiomegaly): trained must be true or false (got 'yes')",
        ),
        (
            _set_point(2, math.nan),
            "labels[2] (Effusion): operating_points['youden'] must be a threshold from 0",
        ),
        (_set_point(2, math.inf), "operating_points['youden'] must be a threshold from 0 to 1 (got inf)"),
        (_set_point(2, 1.5), "operating_points['youden'] must be a threshold from 0 to 1 (got 1.5)"),
        (_set_point(2, -0.1), "operating_points['youden'] must be a threshold from 0 to 1 (got -0.1)"),
        (
            _set_label(3, "operating_points", [0.5]),
            "labels[3] (Infiltration): operating_points must be an object",
        ),
        (
            _set_label(4, "auroc", 1.2),
            "labels[4] (Mass): auroc must be null or a number from 0 to 1 (got 1.2)",
        ),
        (
            _set_label(5, "n_positive", -1),
            "labels[5] (Nodule): n_positive must be a non-negative integer (got -1)",
        ),
        (_set_label(5, "name", "Mass"), "labels: each name must appear once (repeated: Mass)"),
        (
            _set_label(6, "curve", {"thresholds": [0.2, 0.1], "sensitivity": [1, 0], "specificity": [0, 1]}),
            "labels[6] (Pneumonia): curve.thresholds must be ascending (got [0.2, 0.1])",
        ),
        (
            _set_label(6, "curve", {"thresholds": [0.1], "sensitivity": [1, 0], "specificity": [0, 1]}),
            "labels[6] (Pneumonia): curve lists must be equally long (got 1, 2, 2)",
        ),
    ],
)
def test_bad_label_is_named_with_its_value(
    package: Path, change: Callable[[Card], object], expected: str
) -> None:
    edit_card(package, change)
    assert expected in refusal(read_card, package)


def test_missing_default_operating_point_is_refused_not_read_as_half(package: Path) -> None:
    """ModelCard.thresholds would silently use 0.5 for a label without the default point."""
    edit_card(package, lambda card: card["labels"][3]["operating_points"].pop("youden"))
    message = refusal(read_card, package)
    assert (
        "default_operating_point 'youden' is missing from the operating points of trained label(s) "
        in message
    )
    assert message.endswith("Infiltration: every trained label needs a threshold there")


def test_untrained_labels_need_no_operating_point(package: Path) -> None:
    edit_card(package, lambda card: card["labels"][3].update(trained=False, operating_points={}))
    assert read_card(package).label("Infiltration").operating_points == {}


def test_every_problem_is_reported_at_once(package: Path) -> None:
    def break_three_fields(card: Card) -> None:
        card.update(input_size=0, task="binary")
        card["labels"][0]["operating_points"]["youden"] = math.nan

    edit_card(package, break_three_fields)
    assert refusal(read_card, package).splitlines() == [
        f"{package}: 3 problems:",
        "  card.json: task must be one of 'multilabel', 'multiclass' (got 'binary')",
        "  card.json: input_size must be a positive integer (got 0)",
        "  card.json: labels[0] (Atelectasis): operating_points['youden'] must be a threshold from 0 to 1 "
        "(got nan)",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[" * 100_000 + "]" * 100_000, "card.json is nested too deeply to be a model card"),
        ("{", "card.json cannot be read as JSON (Expecting property name"),
        ("[1, 2]", "card.json must hold a JSON object (got list)"),
    ],
)
def test_unreadable_card_is_refused(package: Path, text: str, expected: str) -> None:
    (package / CARD).write_text(text)
    assert expected in refusal(read_card, package)


def test_card_that_is_not_utf8_is_refused(package: Path) -> None:
    (package / CARD).write_bytes(b"\xff\xfe{}")
    assert "card.json cannot be read as JSON ('utf-8' codec can't decode" in refusal(read_card, package)


# ------------------------------------------------------------------------------------ weights against card


def test_garbage_weights_with_matching_sha256(package: Path) -> None:
    (package / WEIGHTS).write_bytes(b"not safetensors at all " * 40)
    sha = hashlib.sha256((package / WEIGHTS).read_bytes()).hexdigest()
    edit_card(package, lambda card: card.update(weights_sha256=sha))
    assert "model.safetensors: weights cannot be loaded: Error while deserializing header" in refusal(
        load_package, package
    )


def test_missing_and_misshapen_tensors(package: Path) -> None:
    def damage(state: dict[str, torch.Tensor]) -> None:
        del state["features.norm5.weight"]
        state["features.norm5.bias"] = torch.zeros(3)
        state["features.conv0.weight"] = state["features.conv0.weight"].long()

    edit_weights(package, damage)
    message = refusal(load_package, package)
    assert "model.safetensors: weights cannot be loaded: 1 missing key(s) [features.norm5.weight]" in message
    assert "shape mismatch [features.norm5.bias (3,) != (1024,)]" in message
    assert "unsupported dtype [features.conv0.weight torch.int64]" in message


def test_label_count_must_match_the_classifier(package: Path) -> None:
    edit_card(package, lambda card: card.update(labels=card["labels"][:13]))
    assert "card.json: 13 labels but model.safetensors has 14 outputs (classifier out_features)" in refusal(
        load_package, package
    )


def test_xrv_preprocessing_needs_one_channel_weights(package: Path) -> None:
    edit_card(package, lambda card: card.update(preprocessing="xrv"))
    message = refusal(load_package, package)
    assert message.endswith(
        "card.json: preprocessing 'xrv' needs 1-channel weights, but the first convolution of "
        "model.safetensors (features.conv0) takes 3 channel(s)"
    )


def test_chexnet_preprocessing_needs_three_channel_weights(package: Path) -> None:
    edit_weights(package, lambda state: state.update({"features.conv0.weight": torch.zeros(64, 1, 7, 7)}))
    assert (
        "preprocessing 'chexnet' needs 3-channel weights, but the first convolution of model.safetensors "
        in (refusal(load_package, package))
    )


# ------------------------------------------------------------------------------------ writing


@pytest.fixture(scope="module")
def card_and_model(random_package: Path) -> tuple[ModelCard, torch.nn.Module]:
    card = read_card(random_package)
    return card, build_model(card)


def _with_youden(card: ModelCard, value: float) -> ModelCard:
    first = dataclasses.replace(card.labels[0], operating_points={"youden": value})
    return dataclasses.replace(card, labels=(first, *card.labels[1:]), default_operating_point="youden")


def test_writer_refuses_nan_threshold_and_writes_nothing(
    card_and_model: tuple[ModelCard, torch.nn.Module], tmp_path: Path
) -> None:
    card, model = card_and_model
    with pytest.raises(
        PackageError, match=r"operating_points\['youden'\] must be a threshold from 0 to 1 \(got nan\)"
    ):
        save_package(tmp_path / "out", _with_youden(card, math.nan), model)
    assert not (tmp_path / "out").exists()


def test_writer_never_writes_nan_anywhere(
    card_and_model: tuple[ModelCard, torch.nn.Module], tmp_path: Path
) -> None:
    card, model = card_and_model
    with pytest.raises(PackageError, match="card.json cannot be written: Out of range float values"):
        save_package(tmp_path / "out", dataclasses.replace(card, metrics={"auroc": math.nan}), model)
    assert not (tmp_path / "out").exists()


def test_writer_refuses_a_card_that_does_not_fit_the_model(
    card_and_model: tuple[ModelCard, torch.nn.Module], tmp_path: Path
) -> None:
    card, model = card_and_model
    with pytest.raises(PackageError, match="13 labels but model.safetensors has 14 outputs"):
        save_package(tmp_path / "out", dataclasses.replace(card, labels=card.labels[:13]), model)
    assert not (tmp_path / "out").exists()


def test_written_package_loads_back(
    card_and_model: tuple[ModelCard, torch.nn.Module], tmp_path: Path
) -> None:
    card, model = card_and_model
    saved = save_package(tmp_path / "out", card, model, dtype=torch.float16)
    loaded, back = load_package(tmp_path / "out")
    assert (
        loaded == saved
        and saved.weights_sha256 == hashlib.sha256((tmp_path / "out" / WEIGHTS).read_bytes()).hexdigest()
    )
    assert torch.equal(back.classifier.weight, model.classifier.weight.half().float())
