"""The ``xrv`` checkpoint format: torchxrayvision DenseNet weights — a plain state dict (``features.*``,
``classifier``, maybe ``op_threshs``), or a whole pickled ``xrv.models.DenseNet`` read by
:mod:`inference.models.safe_unpickle` (no pickled code runs)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from inference.api import LabelCard, ModelCard, Preprocessing
from inference.labels import XRV_DEFAULT, canonical, label_code
from inference.models import checkpoints
from inference.models.checkpoints import (
    FALLBACK_THRESHOLD,
    UNCALIBRATED,
    CheckpointError,
    Converted,
    Provenance,
)

XRV_OP = "xrv_op_thresh"


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


def convert(obj: Any, source: str = "checkpoint") -> Converted:
    """torchxrayvision DenseNet (whole module, state dict, or {'state_dict': ...}) -> 1-channel state."""
    pathologies = op_threshs = None
    if isinstance(obj, torch.nn.Module):
        tensors = dict(obj.state_dict())
        pathologies = _as_names(getattr(obj, "pathologies", None)) or _as_names(getattr(obj, "targets", None))
        op_threshs = _as_floats(getattr(obj, "op_threshs", None))
    elif isinstance(obj, Mapping) and checkpoints.tensor_dict(obj) is None and "state_dict" in obj:
        tensors = checkpoints.tensor_dict(obj["state_dict"]) or {}
        pathologies = _as_names(obj.get("pathologies")) or _as_names(obj.get("targets"))
        op_threshs = _as_floats(obj.get("op_threshs"))
    else:
        tensors = checkpoints.tensor_dict(obj) or {}
    if not tensors:
        raise CheckpointError(f"{source}: expected a torchxrayvision DenseNet or its state dict")
    tensors = {checkpoints.strip_prefixes(k, ("module.",)): v for k, v in tensors.items()}
    if "op_threshs" in tensors:  # xrv registers op_threshs as a buffer: not a network weight
        op_threshs = _as_floats(tensors.pop("op_threshs"))
    state = {checkpoints.rename_old_densenet_key(k): v for k, v in tensors.items()}
    converted = checkpoints.fit_densenet(state, in_channels=1, source=source)
    return dataclasses.replace(converted, pathologies=pathologies, op_threshs=op_threshs)


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


def card(
    converted: Converted,
    provenance: Provenance,
    labels: Sequence[str] | None = None,
    op_threshs: Sequence[float] | None = None,
) -> ModelCard:
    """The card of a converted torchxrayvision checkpoint; ``labels`` and ``op_threshs`` override the
    checkpoint's own."""
    pathologies = tuple(labels) if labels is not None else converted.pathologies
    threshs = tuple(op_threshs) if op_threshs is not None else converted.op_threshs
    cards, notes = xrv_labels(converted.num_outputs, pathologies, threshs)
    description = (
        "torchxrayvision DenseNet-121 (1 channel, input scaled to [-1024, 1024]). Scores are "
        "probabilities sigmoid(logit), not xrv's op_norm display scores. Operating point "
        f"'{XRV_OP}' (also stored as 'youden') is xrv's op_threshs in probability space, derived on "
        f"xrv's own validation data. {checkpoints.THRESHOLD_NOTE} " + " ".join(notes)
    )
    return checkpoints.densenet_card(
        provenance, Preprocessing.XRV, cards, xrv_default_point(threshs), description.strip()
    )
