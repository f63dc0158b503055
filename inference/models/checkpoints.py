"""Convert published checkpoints into model packages.

* ``chexnet``: arnoweng/CheXNet ``model.pth.tar`` — ``{"state_dict": ...}`` with keys
  ``module.densenet121.features...`` in the old torchvision naming (``norm.1`` -> ``norm1``) and a
  ``classifier.0`` Linear followed by a Sigmoid.
* ``xrv``: torchxrayvision DenseNet weights — a plain state dict (``features.*``, ``classifier``,
  maybe ``op_threshs``), or a whole pickled ``xrv.models.DenseNet`` read by
  :mod:`inference.models.safe_unpickle` (no pickled code runs).

Keys are mapped explicitly onto :class:`CheXDenseNet`; anything left over or missing is an error.
Packages store logits; probabilities are ``sigmoid(logit)`` in both conventions.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from inference.api import LabelCard, ModelCard, Preprocessing, Task
from inference.labels import CHESTXRAY14, XRV_DEFAULT, canonical, label_code
from inference.models.densenet import CheXDenseNet, preview, reference_state, state_problems
from inference.models.package import CARD, WEIGHTS, read_card, save_package, sha256_of
from inference.models.safe_unpickle import load_restricted
from inference.runtime.backends.onnx_export import add_export
from inference.runtime.options import CHECKPOINT_KINDS

KINDS = CHECKPOINT_KINDS
XRV_OP = "xrv_op_thresh"

# torchvision densenet `_load_state_dict`: "denselayer1.norm.1.weight" -> "denselayer1.norm1.weight".
# torch 0.4.1 also saved BatchNorm counters under the old names ("norm.1.num_batches_tracked").
_OLD_DENSELAYER = re.compile(
    r"^(.*denselayer\d+\.(?:norm|relu|conv))\."
    r"((?:[12])\.(?:weight|bias|running_mean|running_var|num_batches_tracked))$"
)

# arnoweng's head is Sequential(Linear, Sigmoid); we keep the Linear and apply the sigmoid at inference.
_CHEXNET_HEAD = {"classifier.0.weight": "classifier.weight", "classifier.0.bias": "classifier.bias"}

# Outputs without a published threshold get this one, explicitly, under the card's default point.
UNCALIBRATED = "uncalibrated"
FALLBACK_THRESHOLD = 0.5

_THRESHOLD_NOTE = (
    "Thresholds are not transferable across sites: re-derive operating points on local validation "
    "data before use (cxr-triage evaluate)."
)


class CheckpointError(Exception):
    """A checkpoint cannot be read safely or does not map onto DenseNet-121."""


@dataclasses.dataclass(frozen=True)
class Converted:
    """A checkpoint mapped onto :class:`CheXDenseNet` naming, before it becomes a package."""

    state_dict: dict[str, torch.Tensor]
    num_outputs: int
    in_channels: int
    pathologies: tuple[str, ...] | None = None  # xrv: "" = untrained output
    op_threshs: tuple[float, ...] | None = None  # xrv: sigmoid space, NaN = none


# ---------------------------------------------------------------------------------------------- reading


_ACCEPTED = (
    "for safety CXR Triage only loads tensors and plain containers (CheXNet state dicts, "
    "torchxrayvision DenseNet checkpoints)"
)
# torch's weights_only unpickler names the first global it refuses.
_UNSAFE_GLOBAL = re.compile(r"Unsupported global: GLOBAL (\S+) was not an allowed global")


def _refusal(path: Path, exc: BaseException) -> str:
    """Why ``path`` is refused, without torch's advice (which includes loading with weights_only off)."""
    text = str(exc)
    match = _UNSAFE_GLOBAL.search(text)
    if match:
        name = match.group(1)
        module = name.rpartition(".")[0] or "builtins"
        return (
            f"{path} is a pickle that needs code from module {module!r} ({name}) to load; {_ACCEPTED}. "
            "Re-save the weights as a state dict (torch.save(model.state_dict(), 'weights.pth')) where "
            "that code is installed, then import that file."
        )
    text = text.split("WeightsUnpickler error:")[-1].split("Check the documentation")[0]
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and "weights_only" not in ln]
    reason = " ".join(lines) or type(exc).__name__
    return f"{path}: not a checkpoint that can be read without running code ({reason}); {_ACCEPTED}."


def read_checkpoint(path: Path) -> Any:
    """Load a checkpoint file without executing pickled code."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file")
    try:
        return load_restricted(path)
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError, EOFError, ... on bad files
        raise CheckpointError(_refusal(path, exc)) from exc


def _tensor_dict(obj: Any) -> dict[str, torch.Tensor] | None:
    if isinstance(obj, Mapping) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        return {str(k): v for k, v in obj.items()}
    return None


def _strip(key: str, prefixes: Sequence[str]) -> str:
    for prefix in prefixes:
        if key.startswith(prefix):
            key = key[len(prefix) :]
    return key


def rename_old_densenet_key(key: str) -> str:
    """Old torchvision DenseNet naming (``norm.1``, ``conv.2``) -> current (``norm1``, ``conv2``)."""
    match = _OLD_DENSELAYER.match(key)
    return match.group(1) + match.group(2) if match else key


def _fit(state: dict[str, torch.Tensor], in_channels: int, source: str) -> Converted:
    """Check ``state`` against CheXDenseNet's keys and shapes; fill missing BN batch counters."""
    weight = state.get("classifier.weight")
    if weight is None or weight.ndim != 2:
        raise CheckpointError(
            f"{source}: not a DenseNet-121 of the expected format: no classifier weight "
            f"(keys look like {preview(sorted(state), 3)})"
        )
    num_outputs = int(weight.shape[0])
    reference = reference_state(num_outputs, in_channels)
    for key, value in reference.items():  # absent in checkpoints saved before torch 0.4.1
        if key.endswith("num_batches_tracked") and key not in state:
            state[key] = torch.zeros(value.shape, dtype=value.dtype)
    problems = state_problems(state, reference)
    if problems:
        raise CheckpointError(
            f"{source}: does not map onto DenseNet-121 with {in_channels} input channel(s): "
            + "; ".join(problems)
        )
    state = {k: state[k].detach().to(reference[k].dtype).contiguous() for k in reference}
    return Converted(state_dict=state, num_outputs=num_outputs, in_channels=in_channels)


def convert_chexnet(obj: Any, source: str = "checkpoint") -> Converted:
    """arnoweng/CheXNet ``model.pth.tar`` contents -> CheXDenseNet state dict (3 channels)."""
    if isinstance(obj, torch.nn.Module):
        raise CheckpointError(
            f"{source}: a pickled torchxrayvision DenseNet, not CheXNet: use 'model import xrv'"
        )
    raw = obj.get("state_dict") if isinstance(obj, Mapping) and "state_dict" in obj else obj
    tensors = _tensor_dict(raw)
    if tensors is None:
        raise CheckpointError(
            f"{source}: expected a dict with a 'state_dict' of tensors (arnoweng CheXNet format)"
        )
    state: dict[str, torch.Tensor] = {}
    for key, value in tensors.items():
        new = _strip(key, ("module.", "densenet121."))
        new = rename_old_densenet_key(new)
        new = _CHEXNET_HEAD.get(new, new)
        state[new] = value
    return _fit(state, in_channels=3, source=source)


def _as_floats(values: Any) -> tuple[float, ...] | None:
    if values is None:
        return None
    if isinstance(values, torch.Tensor):
        values = values.detach().flatten().tolist()
    try:
        return tuple(float(v) for v in values)
    except (TypeError, ValueError):
        return None


def _as_names(values: Any) -> tuple[str, ...] | None:
    if isinstance(values, (list, tuple)) and all(isinstance(v, str) for v in values):
        return tuple(values)
    return None


def convert_xrv(obj: Any, source: str = "checkpoint") -> Converted:
    """torchxrayvision DenseNet (whole module, state dict, or {'state_dict': ...}) -> 1-channel state."""
    pathologies = op_threshs = None
    if isinstance(obj, torch.nn.Module):
        tensors = dict(obj.state_dict())
        pathologies = _as_names(getattr(obj, "pathologies", None)) or _as_names(getattr(obj, "targets", None))
        op_threshs = _as_floats(getattr(obj, "op_threshs", None))
    elif isinstance(obj, Mapping) and _tensor_dict(obj) is None and "state_dict" in obj:
        tensors = _tensor_dict(obj["state_dict"]) or {}
        pathologies = _as_names(obj.get("pathologies")) or _as_names(obj.get("targets"))
        op_threshs = _as_floats(obj.get("op_threshs"))
    else:
        tensors = _tensor_dict(obj) or {}
    if not tensors:
        raise CheckpointError(f"{source}: expected a torchxrayvision DenseNet or its state dict")
    tensors = {_strip(k, ("module.",)): v for k, v in tensors.items()}
    if "op_threshs" in tensors:  # xrv registers op_threshs as a buffer: not a network weight
        op_threshs = _as_floats(tensors.pop("op_threshs"))
    state = {rename_old_densenet_key(k): v for k, v in tensors.items()}
    converted = _fit(state, in_channels=1, source=source)
    return dataclasses.replace(converted, pathologies=pathologies, op_threshs=op_threshs)


# ---------------------------------------------------------------------------------------------- cards


def chexnet_labels(num_outputs: int, names: Sequence[str] | None = None) -> tuple[LabelCard, ...]:
    """ChestX-ray14 labels, all trained, at the uncalibrated 0.5 (CheXNet published no operating points)."""
    names = tuple(names) if names else CHESTXRAY14
    if len(names) != num_outputs:
        raise CheckpointError(f"checkpoint has {num_outputs} outputs but {len(names)} label names were given")
    if not all(names) or len(set(names)) != len(names):
        raise CheckpointError(f"label names must be non-empty and distinct: {list(names)}")
    fallback = {UNCALIBRATED: FALLBACK_THRESHOLD}
    return tuple(LabelCard(canonical(n), operating_points=fallback, code=label_code(n)) for n in names)


def xrv_default_point(op_threshs: Sequence[float] | None) -> str:
    """xrv's own thresholds when the checkpoint has any, else the uncalibrated 0.5."""
    has_any = op_threshs is not None and any(math.isfinite(t) for t in op_threshs)
    return XRV_OP if has_any else UNCALIBRATED


def xrv_labels(
    num_outputs: int, pathologies: Sequence[str] | None, op_threshs: Sequence[float] | None
) -> tuple[tuple[LabelCard, ...], list[str]]:
    """One card per output, in output order, and notes for the card description.

    Outputs named "" by torchxrayvision were not trained: they keep the default-pathology name of
    their position (or ``output_<i>``) with ``trained=False``. ``op_threshs`` are thresholds on
    ``sigmoid(logit)`` (xrv ``op_norm`` compares them with the sigmoid output); a trained output
    without one gets 0.5 under the default point, and the notes name it.
    """
    notes: list[str] = []
    if pathologies is None:
        if num_outputs != len(XRV_DEFAULT):
            raise CheckpointError(
                f"checkpoint has {num_outputs} outputs and names none: "
                "pass --labels (comma-separated, empty = untrained)"
            )
        pathologies = XRV_DEFAULT
        notes.append(
            "The checkpoint does not name its outputs: all 18 default pathologies are assumed trained; "
            "pass --labels to mark untrained outputs."
        )
    if len(pathologies) != num_outputs:
        raise CheckpointError(f"checkpoint has {num_outputs} outputs but {len(pathologies)} pathologies")
    if op_threshs is not None and len(op_threshs) != num_outputs:
        raise CheckpointError(f"checkpoint has {num_outputs} outputs but {len(op_threshs)} op_threshs")

    default = xrv_default_point(op_threshs)
    trained_names = {canonical(p) for p in pathologies if p}
    labels: list[LabelCard] = []
    no_op: list[str] = []
    for i, raw in enumerate(pathologies):
        if raw:
            name, trained = canonical(raw), True
        else:
            name = XRV_DEFAULT[i] if num_outputs == len(XRV_DEFAULT) else f"output_{i}"
            name = f"output_{i}" if name in trained_names else name
            trained = False
        points: dict[str, float] = {}
        thresh = op_threshs[i] if op_threshs is not None else math.nan
        if trained and math.isfinite(thresh):
            points = {XRV_OP: thresh, "youden": thresh}
        elif trained:
            points = {default: FALLBACK_THRESHOLD}
            no_op.append(name)
        labels.append(LabelCard(name, trained=trained, operating_points=points, code=label_code(name)))
    names = [lab.name for lab in labels]
    if len(set(names)) != len(names):
        raise CheckpointError(f"duplicate output names: {names}")
    untrained = [lab.name for lab in labels if not lab.trained]
    if untrained:
        notes.append(f"Untrained outputs (hidden): {', '.join(untrained)}.")
    if default == UNCALIBRATED:
        notes.append(
            f"No op_threshs in the checkpoint: every trained output's threshold is {FALLBACK_THRESHOLD} "
            f"(operating point '{UNCALIBRATED}')."
        )
    elif no_op:
        notes.append(
            f"No op_thresh for: {', '.join(no_op)} (their '{XRV_OP}' is {FALLBACK_THRESHOLD}, uncalibrated)."
        )
    return tuple(labels), notes


def parse_labels(text: str | None) -> tuple[str, ...] | None:
    """``"Atelectasis,,Effusion"`` -> names with "" for untrained outputs."""
    return None if text is None else tuple(part.strip() for part in text.split(","))


def parse_floats(text: str | None) -> tuple[float, ...] | None:
    """``"0.07,nan,0.1"`` -> floats (NaN = no threshold)."""
    if text is None:
        return None
    try:
        return tuple(float(part) for part in text.split(","))
    except ValueError as exc:
        raise CheckpointError(f"--op-threshs: {exc}") from exc


def build_card(
    kind: str,
    converted: Converted,
    *,
    name: str,
    version: str,
    source: Path,
    source_sha256: str,
    labels: Sequence[str] | None = None,
    op_threshs: Sequence[float] | None = None,
    training_data: Sequence[str] = (),
) -> ModelCard:
    """The model card of an imported checkpoint (``weights_sha256`` is filled by ``save_package``)."""
    recipe = f"imported from {kind} checkpoint {source.name} (sha256 {source_sha256})"
    if kind == "chexnet":
        cards = chexnet_labels(converted.num_outputs, labels)
        description = (
            "CheXNet (arnoweng/CheXNet re-implementation of Rajpurkar et al. 2017), DenseNet-121, "
            "ChestX-ray14 labels, sigmoid outputs; the reference used ten-crop averaging. "
            f"No operating points were published: every label's default point '{UNCALIBRATED}' is "
            f"{FALLBACK_THRESHOLD}, which is not a calibrated cut-off. {_THRESHOLD_NOTE}"
        )
        return ModelCard(
            name=name,
            version=version,
            architecture="densenet121",
            task=Task.MULTILABEL,
            preprocessing=Preprocessing.CHEXNET,
            labels=cards,
            weights_sha256="",
            input_size=224,
            default_operating_point=UNCALIBRATED,
            description=description,
            training_data=tuple(training_data) or ("ChestX-ray14 (NIH Clinical Center)",),
            recipe=recipe,
        )
    if kind != "xrv":
        raise CheckpointError(f"unknown checkpoint kind {kind!r}; expected one of {KINDS}")
    pathologies = tuple(labels) if labels is not None else converted.pathologies
    threshs = tuple(op_threshs) if op_threshs is not None else converted.op_threshs
    cards, notes = xrv_labels(converted.num_outputs, pathologies, threshs)
    description = (
        "torchxrayvision DenseNet-121 (1 channel, input scaled to [-1024, 1024]). Scores are "
        "probabilities sigmoid(logit), not xrv's op_norm display scores. Operating point "
        f"'{XRV_OP}' (also stored as 'youden') is xrv's op_threshs in probability space, derived on "
        f"xrv's own validation data. {_THRESHOLD_NOTE} " + " ".join(notes)
    )
    return ModelCard(
        name=name,
        version=version,
        architecture="densenet121",
        task=Task.MULTILABEL,
        preprocessing=Preprocessing.XRV,
        labels=cards,
        weights_sha256="",
        input_size=224,
        default_operating_point=xrv_default_point(threshs),
        description=description.strip(),
        training_data=tuple(training_data),
        recipe=recipe,
    )


# ---------------------------------------------------------------------------------------------- import


def import_checkpoint(
    kind: str,
    checkpoint: Path,
    dest: Path,
    *,
    name: str | None = None,
    version: str | None = None,
    labels: Sequence[str] | None = None,
    op_threshs: Sequence[float] | None = None,
    training_data: Sequence[str] = (),
    force: bool = False,
) -> ModelCard:
    """Read ``checkpoint`` (``kind`` = chexnet | xrv) and write a model package to ``dest``, with the ONNX
    export the reading station runs (named in its card)."""
    if kind not in KINDS:
        raise CheckpointError(f"unknown checkpoint kind {kind!r}; expected one of {KINDS}")
    checkpoint, dest = Path(checkpoint), Path(dest)
    if dest.exists() and not dest.is_dir():
        raise CheckpointError(f"{dest}: exists and is not a folder")
    if not force and ((dest / CARD).exists() or (dest / WEIGHTS).exists()):
        raise CheckpointError(f"{dest}: already holds a model package (use --force to overwrite)")
    obj = read_checkpoint(checkpoint)
    convert = convert_chexnet if kind == "chexnet" else convert_xrv
    converted = convert(obj, source=str(checkpoint))
    source_sha = sha256_of(checkpoint)
    card = build_card(
        kind,
        converted,
        name=name or f"{kind}-{checkpoint.name.split('.')[0]}",
        version=version or f"imported-{source_sha[:8]}",
        source=checkpoint,
        source_sha256=source_sha,
        labels=labels,
        op_threshs=op_threshs,
        training_data=training_data,
    )
    model = CheXDenseNet(converted.num_outputs, in_channels=converted.in_channels)
    model.load_state_dict(converted.state_dict)
    save_package(dest, card, model.eval())
    add_export(dest)
    return read_card(dest)
