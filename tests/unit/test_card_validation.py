"""Every bad model package is one clear PackageError naming each problem, field and value.

Each hostile package is a copy of the random test package with its card or weights edited here.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from pydicom.sr._cid_dict import cid_concepts as CID_CONCEPTS
from pydicom.sr._concepts_dict import concepts as CONCEPTS
from safetensors.torch import load_file, save_file

from inference.api import LabelCode, ModelCard
from inference.bundled import DEMO_MODEL
from inference.fit.card_md import render
from inference.fit.train.card import label_cards
from inference.labels import CHESTXRAY14, CODES, PRIVATE, PRIVATE_SCHEME, SNOMED, XRV_DEFAULT
from inference.models.chexnet_checkpoint import chexnet_labels
from inference.models.package import (
    CARD,
    WEIGHTS,
    PackageError,
    build_model,
    load_package,
    read_card,
    save_package,
)
from inference.models.xrv_checkpoint import xrv_labels

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
        ("onnx", "model.onnx", "onnx must be null or an object (got 'model.onnx')"),
        (
            "onnx",
            {"file": "../model.onnx", "sha256": "0" * 64, "outputs": "x", "opset": 17, "parity": 0.0},
            "onnx.file must be a file name inside the package (got '../model.onnx')",
        ),
        (
            "onnx",
            {"file": "model.onnx", "sha256": "0" * 64, "outputs": "x", "opset": 17, "parity": -1},
            "onnx.parity must be a non-negative number (got -1)",
        ),
        ("onnx", {"file": "model.onnx"}, "onnx.sha256 is missing"),
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


# ------------------------------------------------------------------------------------ finding codes


PNEUMONIA = {"value": "233604007", "scheme": "SCT", "meaning": "Pneumonia", "source": "SNOMED CT"}


def _set_code(**change: object) -> Callable[[Card], object]:
    return _set_label(6, "code", {**PNEUMONIA, **change})  # labels[6] of the random package is Pneumonia


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            _set_label(6, "code", "233604007"),
            "labels[6] (Pneumonia): code must be null or an object of value, scheme, meaning, source "
            "(got '233604007')",
        ),
        (
            _set_label(6, "code", {k: v for k, v in PNEUMONIA.items() if k != "source"}),
            "labels[6] (Pneumonia): code must be null or an object of value, scheme, meaning, source",
        ),
        (
            _set_code(scheme="SNOMED"),
            "labels[6] (Pneumonia): code.scheme must be one of 'SCT', 'DCM', 'RADLEX' or a private scheme "
            "of at most 16 characters beginning with '99' (got 'SNOMED')",
        ),
        (_set_code(scheme="99" + "X" * 15), "code.scheme must be one of 'SCT', 'DCM', 'RADLEX' or a private"),
        (
            _set_code(value="F000"),
            "labels[6] (Pneumonia): code.value must be a number for scheme SCT (got 'F000')",
        ),
        (_set_code(scheme="RADLEX", value="5350"), "code.value must be RID and a number for scheme RADLEX"),
        (
            _set_code(meaning="P" * 65),
            "labels[6] (Pneumonia): code.meaning must be at most 64 characters (got 65)",
        ),
        (
            _set_code(meaning="Pneumonia\\Lung"),
            "code.meaning must be a non-empty printable string without a backslash (got 'Pneumonia\\\\Lung')",
        ),
        (_set_code(source=" "), "code.source must be a non-empty printable string without a backslash"),
        (_set_code(value=233604007), "code.value must be a non-empty printable string without a backslash"),
    ],
)
def test_bad_code_is_named_with_its_value(
    package: Path, change: Callable[[Card], object], expected: str
) -> None:
    edit_card(package, change)
    assert expected in refusal(read_card, package)


def test_a_code_is_read_and_written_back_as_it_is(
    package: Path, card_and_model: tuple[ModelCard, torch.nn.Module], tmp_path: Path
) -> None:
    private = {"value": "Pleural_Thickening", "scheme": "99CXRTRIAGE", "meaning": "Pleural thickening",
               "source": "private"}  # fmt: skip
    edit_card(package, lambda card: [_set_code()(card), _set_label(12, "code", private)(card)])
    card = read_card(package)
    assert card.label("Pneumonia").code == LabelCode(**PNEUMONIA)
    assert card.label("Pleural_Thickening").code == LabelCode(**private)
    assert card.label("Atelectasis").code is None  # optional: null
    saved = save_package(tmp_path / "out", card, card_and_model[1])
    assert read_card(tmp_path / "out") == saved and saved.label("Pneumonia").code == LabelCode(**PNEUMONIA)


def _ps316(cid: int, scheme: str, value: str) -> list[str]:
    """The meanings PS3.16's context group ``cid`` gives the code, as pydicom ships them (its
    ``codes.CID8134`` itself cannot be listed in pydicom 3.0: a keyword in two schemes)."""
    return [
        CONCEPTS[scheme][keyword][value][0]
        for keyword in CID_CONCEPTS[cid].get(scheme, [])
        if value in CONCEPTS[scheme][keyword]
    ]


@pytest.mark.parametrize("name", sorted(CODES))
def test_the_code_table_says_truly_where_each_code_comes_from(name: str) -> None:
    """A PS3.16 code is in each context group it cites, with the same meaning (pydicom ships PS3.16's
    context groups); a SNOMED CT one is nowhere in PS3.16 (were it added, its source must say so and
    its meaning be checked again); a private one is in the private scheme."""
    code = CODES[name]
    if code.source.startswith("DICOM PS3.16 CID "):
        cids = [int(cid) for cid in re.findall(r"\d+", code.source.removeprefix("DICOM PS3.16 "))]
        assert cids and all(_ps316(cid, code.scheme, code.value) == [code.meaning] for cid in cids), name
    elif code.source == SNOMED:
        in_ps316 = [entry[code.value] for entry in CONCEPTS["SCT"].values() if code.value in entry]
        assert code.scheme == "SCT" and not in_ps316, f"{name}: PS3.16 has {code.value} {in_ps316}"
    else:
        assert (code.scheme, code.source) == (PRIVATE_SCHEME, PRIVATE)


def test_the_demo_card_holds_the_tables_code_for_every_label() -> None:
    card = read_card(DEMO_MODEL)
    assert {lab.name: lab.code for lab in card.labels} == {lab.name: CODES[lab.name] for lab in card.labels}
    assert card.label("Pneumonia").code == LabelCode("233604007", "SCT", "Pneumonia", SNOMED)
    assert (DEMO_MODEL / "card.md").read_text(encoding="utf-8") == render(card)  # card.md shows them
    assert "| Pneumonia | SCT | 233604007 | Pneumonia | SNOMED CT International" in render(card)


def test_import_and_training_take_their_codes_from_the_same_table() -> None:
    chexnet = chexnet_labels(14)
    assert [lab.code for lab in chexnet] == [CODES[name] for name in CHESTXRAY14]
    renamed = chexnet_labels(2, ["Pleural Effusion", "COVID-19"])  # a CheXpert spelling; a site's label
    assert [lab.code for lab in renamed] == [CODES["Effusion"], None]
    xrv, _ = xrv_labels(18, XRV_DEFAULT, None)
    assert [lab.code for lab in xrv] == [CODES[name] for name in XRV_DEFAULT]
    y = np.r_[np.ones(20), np.zeros(20)]
    trained = label_cards(("Pneumonia", "COVID-19"), np.c_[y, y], np.c_[y, y] * 0.8, None, 10)
    assert [lab.code for lab in trained] == [CODES["Pneumonia"], None]
    assert "named by a private code (99CXRTRIAGE, the label's name)" in render(
        dataclasses.replace(read_card(DEMO_MODEL), labels=trained)
    )
