"""``card.json``: the JSON form of a :class:`ModelCard`, checked field by field.

:func:`parse_card` is the one place that decides whether a card is valid: reading a package
(``load_package``, ``model info``) and writing one (``save_package``, so ``model import`` and
``train``) all go through it. It names every problem at once, one line each, with the field
and the value found.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import reprlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from inference.api import (
    GateCard,
    LabelCard,
    LabelCode,
    ModelCard,
    OnnxCard,
    Preprocessing,
    Task,
    ValidationCurve,
)
from inference.models.registry import ARCHITECTURES

CARD = "card.json"
WEIGHTS = "model.safetensors"
GATE_METHODS = ("ppca-mahalanobis",)
MIN_INPUT_SIZE, MAX_INPUT_SIZE = 32, 2048  # DenseNet-121 downsamples by 32; larger is not a radiograph model

_SHOW = reprlib.Repr()  # a card may hold anything: show values shortened
_SHOW.maxlevel, _SHOW.maxstring, _SHOW.maxother = 2, 60, 60

Check = Callable[[Any], bool]
Checker = Callable[[Any], list[str]]  # a field's value -> what is wrong with it, each "<key suffix> must ..."
Spec = dict[str, tuple[Checker, bool]]  # field -> (its checker, required)


class PackageError(Exception):
    """A model package is missing, incomplete or invalid, or its weights do not fit its card."""


def invalid(package: Path, problems: list[str]) -> PackageError:
    """One error for all of a package's problems, one line per problem."""
    if len(problems) == 1:
        return PackageError(f"{package}: {problems[0]}")
    lines = "\n".join(f"  {p}" for p in problems)
    return PackageError(f"{package}: {len(problems)} problems:\n{lines}")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def checked_weights(package: Path, card: ModelCard) -> Path:
    """The package's weights file, after checking that it exists and that its sha256 is the card's."""
    weights = Path(package) / WEIGHTS
    if not weights.is_file():
        raise invalid(package, [f"no {WEIGHTS}"])
    try:
        actual, expected = sha256_of(weights), card.weights_sha256
    except OSError as exc:
        raise invalid(package, [f"{WEIGHTS} cannot be read ({exc})"]) from exc
    if actual != expected:
        raise invalid(
            package, [f"{WEIGHTS}: sha256 {actual[:12]}… does not match the card's {expected[:12]}…"]
        )
    return weights


def card_to_dict(card: ModelCard) -> dict[str, Any]:
    out = dataclasses.asdict(card)
    out["task"] = card.task.value
    out["preprocessing"] = card.preprocessing.value
    return out


# ---------------------------------------------------------------------------------------------- values


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _is_str(value: Any) -> bool:
    return isinstance(value, str)


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_probability(value: Any) -> bool:
    return _is_number(value) and 0 <= value <= 1


def _is_object(value: Any) -> bool:
    return isinstance(value, dict)


def _is_list_of(check: Check, non_empty: bool = False) -> Check:
    return lambda value: isinstance(value, list) and (bool(value) or not non_empty) and all(map(check, value))


def _one_of(choices: tuple[str, ...]) -> Check:
    return lambda value: isinstance(value, str) and value in choices


def _choices(choices: tuple[str, ...]) -> str:
    return ("one of " if len(choices) > 1 else "") + ", ".join(repr(c) for c in choices)


def _is_sha256(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)


def _must(check: Check, expected: str) -> Checker:
    return lambda value: [] if check(value) else [f" must be {expected} (got {_SHOW.repr(value)})"]


def _operating_points(value: Any) -> list[str]:
    if not _is_object(value):
        return [f" must be an object of names to thresholds (got {_SHOW.repr(value)})"]
    return [
        f"[{name!r}] must be a threshold from 0 to 1 (got {_SHOW.repr(threshold)})"
        for name, threshold in value.items()
        if not (_is_text(name) and _is_probability(threshold))
    ]


_CURVE = ("thresholds", "sensitivity", "specificity")


def _curve(value: Any) -> list[str]:
    if value is None:
        return []
    if not (_is_object(value) and set(value) == set(_CURVE)):
        return [f" must be null or an object of {', '.join(_CURVE)} (got {_SHOW.repr(value)})"]
    columns = _is_list_of(_is_probability, non_empty=True)
    problems = [
        f".{key} must be a non-empty list of numbers from 0 to 1 (got {_SHOW.repr(value[key])})"
        for key in _CURVE
        if not columns(value[key])
    ]
    lengths = [len(value[key]) for key in _CURVE]
    thresholds = value["thresholds"]
    if not problems and len(set(lengths)) > 1:
        problems.append(f" lists must be equally long (got {', '.join(map(str, lengths))})")
    if not problems and any(a > b for a, b in zip(thresholds, thresholds[1:], strict=False)):
        problems.append(f".thresholds must be ascending (got {_SHOW.repr(thresholds)})")
    return problems


_CODE = ("value", "scheme", "meaning", "source")
STANDARD_SCHEMES = ("SCT", "DCM", "RADLEX")  # SNOMED CT, DICOM (PS3.16 Annex D), RadLex
_MAX_SCHEME, _MAX_MEANING = 16, 64  # Coding Scheme Designator is SH, Code Meaning LO


def _scheme_problem(scheme: str) -> str | None:
    if scheme in STANDARD_SCHEMES or (scheme.startswith("99") and len(scheme) <= _MAX_SCHEME):
        return None
    return (
        f".scheme must be {_choices(STANDARD_SCHEMES)} or a private scheme of at most {_MAX_SCHEME} "
        f"characters beginning with '99' (got {_SHOW.repr(scheme)})"
    )


def _value_problem(scheme: str, value: str) -> str | None:
    """SNOMED CT and DICOM codes are numbers, RadLex ones RID and a number."""
    if scheme in ("SCT", "DCM") and not (value.isascii() and value.isdigit()):
        return f".value must be a number for scheme {scheme} (got {_SHOW.repr(value)})"
    if scheme == "RADLEX" and not (value.startswith("RID") and value[3:].isascii() and value[3:].isdigit()):
        return f".value must be RID and a number for scheme RADLEX (got {_SHOW.repr(value)})"
    return None


def _code(value: Any) -> list[str]:
    """A label's coded concept for the DICOM SR: null, or value, scheme, meaning and source."""
    if value is None:
        return []
    if not (_is_object(value) and set(value) == set(_CODE)):
        return [f" must be null or an object of {', '.join(_CODE)} (got {_SHOW.repr(value)})"]
    problems = [
        f".{key} must be a non-empty printable string without a backslash (got {_SHOW.repr(value[key])})"
        for key in _CODE
        if not (_is_text(value[key]) and value[key].isprintable() and "\\" not in value[key])
    ]
    if problems:
        return problems
    length = len(value["meaning"])
    too_long = f".meaning must be at most {_MAX_MEANING} characters (got {length})"
    found = [
        too_long if length > _MAX_MEANING else None,
        _scheme_problem(value["scheme"]),
        _value_problem(value["scheme"], value["value"]),
    ]
    return [problem for problem in found if problem]


# ---------------------------------------------------------------------------------------------- fields


def _optional_section(value: Any, spec: Spec) -> list[str]:
    """The problems of a card section that may be null (``gate``, ``onnx``), each field named."""
    if value is None:
        return []
    if not _is_object(value):
        return [f" must be null or an object (got {_SHOW.repr(value)})"]
    return [f".{problem.lstrip()}" for problem in _section_problems(value, spec)]


def _section_problems(data: Mapping[str, Any], spec: Spec) -> list[str]:
    problems: list[str] = []
    _fields(data, spec, "", problems)
    return problems


_TASKS = tuple(t.value for t in Task)
_PREPROCESSINGS = tuple(p.value for p in Preprocessing)


def _required(cls: type) -> set[str]:
    """The dataclass fields without a default: a card must state them."""
    none = dataclasses.MISSING
    return {f.name for f in dataclasses.fields(cls) if f.default is none and f.default_factory is none}


def _spec(cls: type, checkers: dict[str, Checker]) -> Spec:
    required = _required(cls)
    return {name: (checker, name in required) for name, checker in checkers.items()}


_NON_EMPTY = _must(_is_text, "a non-empty string")
_COUNT = _must(lambda v: _is_int(v) and v >= 0, "a non-negative integer")
_TEXT = _must(_is_str, "a string")

_CARD_FIELDS = _spec(
    ModelCard,
    {
        "name": _NON_EMPTY,
        "version": _NON_EMPTY,
        "architecture": _must(_one_of(tuple(ARCHITECTURES)), _choices(tuple(ARCHITECTURES))),
        "task": _must(_one_of(_TASKS), _choices(_TASKS)),
        "preprocessing": _must(_one_of(_PREPROCESSINGS), _choices(_PREPROCESSINGS)),
        "labels": _must(lambda v: isinstance(v, list) and bool(v), "a non-empty list, one entry per output"),
        "weights_sha256": _must(_is_sha256, "a sha256: 64 lowercase hexadecimal digits"),
        "input_size": _must(lambda v: _is_int(v) and v > 0, "a positive integer"),
        "default_operating_point": _NON_EMPTY,
        "description": _TEXT,
        "intended_use": _TEXT,
        "training_data": _must(_is_list_of(_is_str), "a list of strings"),
        "metrics": _must(_is_object, "a JSON object"),
        "recipe": _TEXT,
        "gate": lambda value: _optional_section(value, _GATE_FIELDS),
        "onnx": lambda value: _optional_section(value, _ONNX_FIELDS),
    },
)
_FILE_NAME = _must(
    lambda v: _is_text(v) and "/" not in v and "\\" not in v and not v.startswith("."),
    "a file name inside the package",
)
_ONNX_FIELDS: Spec = _spec(
    OnnxCard,
    {
        "file": _FILE_NAME,
        "sha256": _must(_is_sha256, "a sha256: 64 lowercase hexadecimal digits"),
        "outputs": _NON_EMPTY,
        "opset": _must(lambda v: _is_int(v) and v > 0, "a positive integer"),
        "parity": _must(lambda v: _is_number(v) and v >= 0, "a non-negative number"),
    },
)
_GATE_FIELDS: Spec = _spec(
    GateCard,
    {
        "method": _must(_one_of(GATE_METHODS), _choices(GATE_METHODS)),
        "file": _FILE_NAME,
        "sha256": _must(_is_sha256, "a sha256: 64 lowercase hexadecimal digits"),
        "threshold": _must(lambda v: _is_number(v) and v > 0, "a positive number"),
        "components": _must(lambda v: _is_int(v) and v > 0, "a positive integer"),
        "calibration": _must(_is_object, "a JSON object"),
    },
)
_LABEL_FIELDS = _spec(
    LabelCard,
    {
        "name": _NON_EMPTY,
        "trained": _must(_is_bool, "true or false"),
        "operating_points": _operating_points,
        "auroc": _must(lambda v: v is None or _is_probability(v), "null or a number from 0 to 1"),
        "n_positive": _COUNT,
        "n_negative": _COUNT,
        "curve": _curve,
        "code": _code,
    },
)


def _fields(data: Mapping[str, Any], spec: Spec, where: str, problems: list[str]) -> dict[str, Any]:
    """The valid fields of ``data`` named in ``spec``; one problem per invalid or missing required one."""
    out: dict[str, Any] = {}
    for key, (check, required) in spec.items():
        if key not in data:
            problems += [f"{where}{key} is missing"] if required else []
            continue
        found = check(data[key])
        problems += [f"{where}{key}{problem}" for problem in found]
        if not found:
            out[key] = data[key]
    return out


def _label(index: int, data: Any, problems: list[str]) -> LabelCard | None:
    """One entry of ``labels``, or None with its problems noted."""
    if not _is_object(data):
        problems.append(f"{CARD}: labels[{index}] must be an object with a name (got {_SHOW.repr(data)})")
        return None
    name = data.get("name")
    where = f"{CARD}: labels[{index}]" + (f" ({name})" if _is_text(name) else "") + ": "
    before = len(problems)
    fields = _fields(data, _LABEL_FIELDS, where, problems)
    if len(problems) > before:
        return None
    curve, auroc = fields.pop("curve", None), fields.pop("auroc", None)
    code = fields.pop("code", None)
    points = {k: float(v) for k, v in fields.pop("operating_points", {}).items()}
    return LabelCard(
        **fields,
        operating_points=points,
        auroc=None if auroc is None else float(auroc),
        curve=ValidationCurve(**{k: tuple(map(float, v)) for k, v in curve.items()}) if curve else None,
        code=LabelCode(**code) if code else None,
    )


def _size_problems(fields: dict[str, Any]) -> list[str]:
    size = fields.get("input_size")
    if size is None or MIN_INPUT_SIZE <= size <= MAX_INPUT_SIZE:
        return []
    return [f"{CARD}: input_size must be from {MIN_INPUT_SIZE} to {MAX_INPUT_SIZE} (got {size})"]


def _duplicate_problems(labels: list[LabelCard]) -> list[str]:
    names = [lab.name for lab in labels]
    repeated = sorted({n for n in names if names.count(n) > 1})
    return (
        [f"{CARD}: labels: each name must appear once (repeated: {', '.join(repeated)})"] if repeated else []
    )


def _default_point_problems(fields: dict[str, Any], labels: list[LabelCard]) -> list[str]:
    """Every trained label has a threshold at the default point: no silent 0.5."""
    point = fields.get("default_operating_point")  # absent here when invalid: already reported
    lacking = [lab.name for lab in labels if lab.trained and point not in lab.operating_points]
    if not (point and lacking):
        return []
    return [
        f"{CARD}: default_operating_point {point!r} is missing from the operating points of "
        f"trained label(s) {', '.join(lacking)}: every trained label needs a threshold there"
    ]


def parse_card(data: object, package: Path) -> ModelCard:
    """``card.json`` contents -> :class:`ModelCard`; a :class:`PackageError` names every problem."""
    if not isinstance(data, dict):
        raise invalid(package, [f"{CARD} must hold a JSON object (got {type(data).__name__})"])
    problems: list[str] = []
    fields = _fields(data, _CARD_FIELDS, f"{CARD}: ", problems)
    if "default_operating_point" not in data:
        fields["default_operating_point"] = ModelCard.default_operating_point
    labels = [_label(i, entry, problems) for i, entry in enumerate(fields.pop("labels", []))]
    valid_labels = [lab for lab in labels if lab is not None]
    problems += _size_problems(fields) + _duplicate_problems(valid_labels)
    problems += _default_point_problems(fields, valid_labels)
    if problems:
        raise invalid(package, problems)
    task, preprocessing = Task(fields.pop("task")), Preprocessing(fields.pop("preprocessing"))
    training_data = tuple(fields.pop("training_data", ()))
    gate, onnx = fields.pop("gate", None), fields.pop("onnx", None)
    return ModelCard(
        **fields,
        labels=tuple(valid_labels),
        task=task,
        preprocessing=preprocessing,
        training_data=training_data,
        gate=None if gate is None else GateCard(**{**gate, "threshold": float(gate["threshold"])}),
        onnx=None if onnx is None else OnnxCard(**{**onnx, "parity": float(onnx["parity"])}),
    )


def read_card(package: Path) -> ModelCard:
    """The package's card, checked field by field; :class:`PackageError` names every problem."""
    package = Path(package)
    path = package / CARD
    if not path.is_file():
        raise PackageError(f"{package} is not a model package: no {CARD}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except RecursionError:
        raise invalid(package, [f"{CARD} is nested too deeply to be a model card"]) from None
    except (OSError, ValueError) as exc:  # ValueError: not UTF-8, not JSON
        raise invalid(package, [f"{CARD} cannot be read as JSON ({exc})"]) from exc
    return parse_card(data, package)


def card_text(card: ModelCard, package: Path) -> str:
    """``card.json``'s text, refused (:class:`PackageError`) where reading it back would be."""
    data = card_to_dict(card)
    parse_card(json.loads(json.dumps(data)), package)
    try:
        return json.dumps(data, indent=2, allow_nan=False) + "\n"
    except ValueError as exc:  # NaN or infinity in a free-form field (metrics): not JSON
        raise invalid(package, [f"{CARD} cannot be written: {exc}"]) from exc


def write_card(package: Path, card: ModelCard) -> None:
    """Write ``card.json`` into ``package``; an invalid card is refused and nothing is written."""
    text = card_text(card, Path(package))
    (Path(package) / CARD).write_text(text, encoding="utf-8")
