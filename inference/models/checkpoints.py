"""Convert published checkpoints into model packages (see DOMAIN.md, "Checkpoint formats").

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
from inference.labels import CHESTXRAY14, XRV_DEFAULT, canonical
from inference.models.densenet import CheXDenseNet
from inference.models.package import CARD, WEIGHTS, save_package, sha256_of
from inference.models.safe_unpickle import load_restricted

KINDS = ("chexnet", "xrv")
XRV_OP = "xrv_op_thresh"

# torchvision densenet `_load_state_dict`: "denselayer1.norm.1.weight" -> "denselayer1.norm1.weight".
_OLD_DENSELAYER = re.compile(
    r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$"
)

# arnoweng's head is Sequential(Linear, Sigmoid); we keep the Linear and apply the sigmoid at inference.
_CHEXNET_HEAD = {"classifier.0.weight": "classifier.weight", "classifier.0.bias": "classifier.bias"}

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


def _torch_error_detail(exc: BaseException) -> str:
    """The useful line of a ``weights_only`` failure, without torch's advice to disable it."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    skip = ("Weights only load failed", "Check the documentation", "Please file an issue")
    useful = [ln for ln in lines if not ln.startswith(skip)]
    return " ".join(useful) or type(exc).__name__


def read_checkpoint(path: Path) -> Any:
    """Load a checkpoint file without executing pickled code."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file")
    try:
        return load_restricted(path)
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError, EOFError, ... on bad files
        raise CheckpointError(
            f"{path}: not a checkpoint that can be read without running code "
            f"({_torch_error_detail(exc)}). Only tensors, state dicts and torchxrayvision DenseNet "
            "objects are accepted."
        ) from exc


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
            f"(keys look like {_preview(sorted(state), 3)})"
        )
    num_outputs = int(weight.shape[0])
    with torch.device("meta"):  # names, shapes and dtypes only: no weight initialisation
        reference = CheXDenseNet(num_outputs, in_channels=in_channels).state_dict()
    for key, value in reference.items():  # absent in checkpoints saved before torch 0.4.1
        if key.endswith("num_batches_tracked") and key not in state:
            state[key] = torch.zeros(value.shape, dtype=value.dtype)
    missing = sorted(set(reference) - set(state))
    unexpected = sorted(set(state) - set(reference))
    wrong = [
        f"{k} {tuple(state[k].shape)} != {tuple(v.shape)}"
        for k, v in reference.items()
        if k in state and state[k].shape != v.shape
    ]
    if missing or unexpected or wrong:
        problems = [f"{len(missing)} missing key(s) {_preview(missing)}"] if missing else []
        problems += [f"{len(unexpected)} unexpected key(s) {_preview(unexpected)}"] if unexpected else []
        problems += [f"shape mismatch {_preview(wrong)}"] if wrong else []
        raise CheckpointError(
            f"{source}: does not map onto DenseNet-121 with {in_channels} input channel(s): "
            + "; ".join(problems)
        )
    state = {k: state[k].detach().to(reference[k].dtype).contiguous() for k in reference}
    return Converted(state_dict=state, num_outputs=num_outputs, in_channels=in_channels)


def _preview(items: Sequence[str], n: int = 6) -> str:
    shown = ", ".join(items[:n])
    return f"[{shown}{', …' if len(items) > n else ''}]"


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
    """ChestX-ray14 labels, all trained; no operating points (CheXNet published none)."""
    names = tuple(names) if names else CHESTXRAY14
    if len(names) != num_outputs:
        raise CheckpointError(f"checkpoint has {num_outputs} outputs but {len(names)} label names were given")
    if not all(names) or len(set(names)) != len(names):
        raise CheckpointError(f"label names must be non-empty and distinct: {list(names)}")
    return tuple(LabelCard(canonical(n)) for n in names)


def xrv_labels(
    num_outputs: int, pathologies: Sequence[str] | None, op_threshs: Sequence[float] | None
) -> tuple[tuple[LabelCard, ...], list[str]]:
    """One card per output, in output order, and notes for the card description.

    Outputs named "" by torchxrayvision were not trained: they keep the default-pathology name of
    their position (or ``output_<i>``) with ``trained=False``. ``op_threshs`` are thresholds on
    ``sigmoid(logit)`` (xrv ``op_norm`` compares them with the sigmoid output).
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

    trained_names = {canonical(p) for p in pathologies if p}
    labels: list[LabelCard] = []
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
        labels.append(LabelCard(name, trained=trained, operating_points=points))
    names = [lab.name for lab in labels]
    if len(set(names)) != len(names):
        raise CheckpointError(f"duplicate output names: {names}")
    untrained = [lab.name for lab in labels if not lab.trained]
    if untrained:
        notes.append(f"Untrained outputs (hidden): {', '.join(untrained)}.")
    no_op = [lab.name for lab in labels if lab.trained and XRV_OP not in lab.operating_points]
    if op_threshs is None:
        notes.append("No op_threshs in the checkpoint: thresholds fall back to 0.5.")
    elif no_op:
        notes.append(f"No op_thresh for: {', '.join(no_op)} (0.5 fallback).")
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
            "No operating points were published: every label falls back to 0.5, which is not a "
            f"calibrated cut-off. {_THRESHOLD_NOTE}"
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
    has_op = any(XRV_OP in lab.operating_points for lab in cards)
    return ModelCard(
        name=name,
        version=version,
        architecture="densenet121",
        task=Task.MULTILABEL,
        preprocessing=Preprocessing.XRV,
        labels=cards,
        weights_sha256="",
        input_size=224,
        default_operating_point=XRV_OP if has_op else "youden",
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
    """Read ``checkpoint`` (``kind`` = chexnet | xrv) and write a model package to ``dest``."""
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
    return save_package(dest, card, model.eval())
