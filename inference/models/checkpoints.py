"""Reading published checkpoints safely and mapping them onto :class:`CheXDenseNet`: what every format
shares. The formats themselves (:data:`inference.models.registry.CHECKPOINT_FORMATS`) each live in a
module of their own (:mod:`inference.models.chexnet_checkpoint`, :mod:`inference.models.xrv_checkpoint`);
:func:`inference.fit.checkpoint_import.import_checkpoint` turns one into a model package.

Keys are mapped explicitly onto :class:`CheXDenseNet`; anything left over or missing is an error.
Packages store logits; probabilities are ``sigmoid(logit)`` in both conventions.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from inference.api import LabelCard, ModelCard, Preprocessing, Task
from inference.models.densenet import preview, reference_state, state_problems
from inference.models.registry import CHECKPOINT_FORMATS, CheckpointFormat
from inference.models.safe_unpickle import load_restricted

# torchvision densenet `_load_state_dict`: "denselayer1.norm.1.weight" -> "denselayer1.norm1.weight".
# torch 0.4.1 also saved BatchNorm counters under the old names ("norm.1.num_batches_tracked").
_OLD_DENSELAYER = re.compile(
    r"^(.*denselayer\d+\.(?:norm|relu|conv))\."
    r"((?:[12])\.(?:weight|bias|running_mean|running_var|num_batches_tracked))$"
)

# Outputs without a published threshold get this one, explicitly, under the card's default point.
UNCALIBRATED = "uncalibrated"
FALLBACK_THRESHOLD = 0.5

THRESHOLD_NOTE = (
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


@dataclasses.dataclass(frozen=True)
class Provenance:
    """What every imported card says about where it came from."""

    name: str
    version: str
    recipe: str
    training_data: tuple[str, ...] = ()


def densenet_card(
    provenance: Provenance,
    preprocessing: Preprocessing,
    labels: tuple[LabelCard, ...],
    default_operating_point: str,
    description: str,
    default_training_data: tuple[str, ...] = (),
) -> ModelCard:
    """The card of an imported DenseNet-121 (224 px, multi-label; ``weights_sha256`` is filled by
    ``save_package``)."""
    return ModelCard(
        name=provenance.name,
        version=provenance.version,
        architecture="densenet121",
        task=Task.MULTILABEL,
        preprocessing=preprocessing,
        labels=labels,
        weights_sha256="",
        input_size=224,
        default_operating_point=default_operating_point,
        description=description,
        training_data=provenance.training_data or default_training_data,
        recipe=provenance.recipe,
    )


def checkpoint_format(name: str) -> CheckpointFormat:
    """The registry entry of ``name``; a CheckpointError naming the choices for any other name."""
    if name not in CHECKPOINT_FORMATS:
        raise CheckpointError(
            f"unknown checkpoint kind {name!r}; expected one of {tuple(CHECKPOINT_FORMATS)}"
        )
    return CHECKPOINT_FORMATS[name]


def convert(kind: str, obj: Any, source: str = "checkpoint") -> Converted:
    """A loaded checkpoint of format ``kind`` mapped onto CheXDenseNet."""
    converted: Converted = checkpoint_format(kind).reader().convert(obj, source)
    return converted


def build_card(
    kind: str,
    converted: Converted,
    provenance: Provenance,
    labels: Sequence[str] | None = None,
    op_threshs: Sequence[float] | None = None,
) -> ModelCard:
    """The model card of an imported checkpoint of format ``kind`` (``weights_sha256`` is filled by
    ``save_package``)."""
    card: ModelCard = checkpoint_format(kind).reader().card(converted, provenance, labels, op_threshs)
    return card


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


def tensor_dict(obj: Any) -> dict[str, torch.Tensor] | None:
    if isinstance(obj, Mapping) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        return {str(k): v for k, v in obj.items()}
    return None


def strip_prefixes(key: str, prefixes: Sequence[str]) -> str:
    for prefix in prefixes:
        if key.startswith(prefix):
            key = key[len(prefix) :]
    return key


def rename_old_densenet_key(key: str) -> str:
    """Old torchvision DenseNet naming (``norm.1``, ``conv.2``) -> current (``norm1``, ``conv2``)."""
    match = _OLD_DENSELAYER.match(key)
    return match.group(1) + match.group(2) if match else key


def fit_densenet(state: dict[str, torch.Tensor], in_channels: int, source: str) -> Converted:
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
