"""Exporting a package's DenseNet to ONNX (torch): into the package itself (``model.onnx``, named in its
card with its sha256 and its parity with torch fp32), or, for a package that carries none, once into
the user's data folder (:mod:`inference.runtime.backends.onnx` reads both).

The legacy TorchScript exporter: it needs nothing beyond torch and onnx, works offline and exports
DenseNet in about a second (the dynamo exporter would add onnxscript to the pins). An export is never
trusted as such: its parity with torch fp32 on the parity probe is measured when it is written, and an
export off by more than :data:`inference.runtime.backends.onnx.PARITY_TOLERANCE` is never used.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from pathlib import Path

import torch
from torch import nn

from inference.api import ModelCard, OnnxCard
from inference.io.atomic import atomic_path
from inference.models.architectures import ChestNet
from inference.models.card import sha256_of
from inference.runtime.backends.onnx import (
    EXPORT_FORMAT,
    FAILURES,
    INPUT,
    OPSET,
    OUTPUTS,
    PACKAGE_FILE,
    PARITY_TOLERANCE,
    OnnxRunner,
    cache_folder,
    cached_name,
    cpu_threads,
    readable_by_all,
)
from inference.runtime.backends.probe import probe_inputs
from inference.runtime.probabilities import probabilities

log = logging.getLogger(__name__)


class _Exported(nn.Module):
    """What is exported: the :data:`OUTPUTS` of one forward pass (as ``forward_with_embedding``, plus
    the feature map the pooled features come from)."""

    def __init__(self, model: ChestNet) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        features = self.model.forward_features(x)
        pooled = self.model.pool(features)
        return self.model.classifier(pooled), pooled, features


def export(model: ChestNet, path: Path) -> None:
    """Write ``model`` (on the CPU, fp32) as ONNX to ``path`` atomically: batch and image size are dynamic."""
    wrapper = _Exported(model).eval()  # eval() on the wrapper: the exporter restores its mode afterwards
    example = torch.zeros(1, model.in_channels, 224, 224)
    image = {0: "batch", 2: "height", 3: "width"}
    axes = {INPUT: image, "logits": {0: "batch"}, "pooled": {0: "batch"}, "features": image}
    with atomic_path(path) as temporary, warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the legacy exporter's deprecation notices
        torch.onnx.export(
            wrapper, (example,), temporary, dynamo=False, opset_version=OPSET,
            input_names=[INPUT], output_names=list(OUTPUTS), dynamic_axes=axes,
        )  # fmt: skip
        readable_by_all(temporary)


def parity(model: ChestNet, path: Path, card: ModelCard) -> float:
    """The largest difference between the probabilities of the export at ``path`` and of ``model`` (torch
    fp32, CPU) on the parity probe."""
    probe = probe_inputs(card)
    with torch.inference_mode():
        reference = probabilities(model(torch.from_numpy(probe)).numpy(), card.task)
    logits, _ = OnnxRunner(path, cpu_threads()).forward(probe)
    return float(abs(probabilities(logits, card.task) - reference).max())


def export_into_package(package: Path, card: ModelCard, model: ChestNet) -> OnnxCard:
    """Export ``model`` (the package's weights, fp32) as ``model.onnx`` into ``package``: the card
    section that names it, with its sha256 and its parity with torch fp32 on the parity probe."""
    path = Path(package) / PACKAGE_FILE
    model = model.cpu().float().eval()
    export(model, path)
    gap = parity(model, path, card)
    return OnnxCard(file=PACKAGE_FILE, sha256=sha256_of(path), outputs=EXPORT_FORMAT, opset=OPSET, parity=gap)


def export_to_cache(model: ChestNet, card: ModelCard) -> Path | None:
    """Export ``model`` into the data folder's cache (where
    :func:`inference.runtime.backends.onnx.cached_export` finds it afterwards) and keep it only when its
    parity with torch holds; the path, or None with the reason logged (parity off, or the export or the
    folder failing)."""
    path = cache_folder() / cached_name(card.weights_sha256)
    try:
        export(model.cpu().float().eval(), path)
        gap = parity(model, path, card)
    except FAILURES as exc:
        log.warning("cannot export the model to ONNX in %s (%s); scoring with torch", path.parent, exc)
        return None
    if gap > PARITY_TOLERANCE:
        log.warning(
            "the ONNX export differs from torch by %.2g (> %.0e); scoring with torch", gap, PARITY_TOLERANCE
        )
        with contextlib.suppress(OSError):
            path.unlink()
        return None
    _delete_other_formats(path.parent, card.weights_sha256)
    log.info("wrote the ONNX export %s (parity with torch %.2g)", path, gap)
    return path


def _delete_other_formats(folder: Path, weights_sha256: str) -> None:
    """Delete the exports of these weights in ``folder`` of another :data:`EXPORT_FORMAT`, and the
    models quantized from them (their names start with the export's): nothing opens them any more."""
    current = cached_name(weights_sha256).removesuffix(".onnx") + "."
    for old in folder.glob(f"{weights_sha256}.*"):
        if old.suffix == ".onnx" and not old.name.startswith(current):
            with contextlib.suppress(OSError):  # another process got there first, or a read-only file
                old.unlink()
                log.info("deleted %s, an export of an older format", old)
