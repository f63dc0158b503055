"""The ONNX Runtime backend: the package's DenseNet exported to ONNX and run by ONNX Runtime on the CPU.

DenseNet-121 only (:data:`ARCHITECTURES`: the only network whose export and parity were measured);
``--backend auto`` keeps torch for other architectures, ``--backend onnx`` says why it cannot.

A package carries its export, ``model.onnx``, named with its sha256 and its parity with torch fp32 in
its card's ``onnx`` section (:func:`export_into_package`; ``cxr-triage model export`` adds it to a
package that lacks it); a package that carries none is exported on first use into the user's data
folder (``onnx-cache/<weights sha256>.<EXPORT_FORMAT>.onnx``). A package folder is never written at run
time. The export (legacy TorchScript exporter: it needs nothing beyond torch and onnx, works offline and
exports DenseNet in about a second; the dynamo exporter would add onnxscript to the pins) has three
outputs: the logits and the pooled norm5 features, which scoring reads, and the norm5 feature map
itself, from which :mod:`inference.explain` makes every finding's heat map. An export of other outputs
(an older format) is never opened; in the cache it is deleted when the new one is written. An export is
never trusted as such: the model service compares it with torch on the parity probe when it loads
(:func:`parity_runner`) and keeps torch when they differ by more than :data:`PARITY_TOLERANCE`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import logging
import os
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
from torch import nn

from inference.api import ModelCard, OnnxCard
from inference.backends.probe import probe_inputs
from inference.io.atomic import atomic_path
from inference.models.architectures import ChestNet
from inference.models.card import read_card, sha256_of, write_card
from inference.models.head import probabilities
from inference.models.package import load_package
from inference.store.location import data_dir
from inference.train.card_md import render

log = logging.getLogger(__name__)

PARITY_TOLERANCE = 1e-4  # max |p_onnx - p_torch| on the parity probe before ONNX Runtime is used
CACHE_FOLDER = "onnx-cache"
PACKAGE_FILE = "model.onnx"  # the export a package carries (its card's onnx section names it)
OPSET = 17
INPUT, OUTPUTS = "input", ("logits", "pooled", "features")
SCORING = ("logits", "pooled")  # what scoring asks ONNX Runtime for: the feature map stays inside it
EXPORT_FORMAT = "logits-pooled-features"  # in the file name: change it whenever the export changes
FAILURES = (OSError, RuntimeError, ValueError)  # what export, files and the runner raise
ARCHITECTURES = ("densenet121",)  # the card architectures this backend exports


def runtime_available() -> bool:
    """Whether ONNX Runtime is installed (found without importing it)."""
    return importlib.util.find_spec("onnxruntime") is not None


def cache_folder() -> Path:
    """Where exports of packages that carry none, and quantized models, are kept: the user's data folder."""
    return data_dir() / CACHE_FOLDER


def cached_name(weights_sha256: str) -> str:
    """The file name of the export of these weights in the current :data:`EXPORT_FORMAT`."""
    return f"{weights_sha256}.{EXPORT_FORMAT}.onnx"


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


def readable_by_all(path: Path) -> None:
    """An export in a package another user runs must be readable by that user, whatever the umask."""
    os.chmod(path, 0o644)


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


class OnnxRunner:
    """An ONNX Runtime session of one exported network: numpy batch in, logits and pooled features out
    for scoring, logits and the feature map for heat maps."""

    def __init__(self, path: Path, threads: int, precision: str = "fp32") -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.path = path
        self.precision = precision  # of the weights and activations: fp32, or int8 (quantized)
        with _as_runtime_error():
            self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def forward(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Logits (N×L) and pooled features (N×C)."""
        logits, pooled = self._run(SCORING, batch)
        return logits, pooled

    def forward_features(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Logits (N×L) and the feature map (N×C×h×w) the pooled features come from."""
        logits, features = self._run(("logits", "features"), batch)
        return logits, features

    def _run(self, outputs: tuple[str, ...], batch: np.ndarray) -> list[np.ndarray]:
        feed = {INPUT: np.ascontiguousarray(batch, np.float32)}
        with _as_runtime_error():
            return self._session.run(list(outputs), feed)


@contextlib.contextmanager
def _as_runtime_error() -> Iterator[None]:
    """ONNX Runtime's errors derive from Exception alone: raise them as RuntimeError."""
    try:
        yield
    except Exception as exc:
        raise RuntimeError(f"ONNX Runtime: {exc}") from exc


def open_runner(model: ChestNet, package: Path | None, card: ModelCard, threads: int) -> OnnxRunner:
    """A runner of the package's own export (:func:`shipped_export`), else of the cached export of these
    weights, exporting it first when no cache folder has it (or has a copy ONNX Runtime cannot open)."""
    own = shipped_export(package, card)
    if own is not None:
        return OnnxRunner(own, threads)

    def make(path: Path) -> None:
        export(model, path)
        _delete_other_formats(path.parent, card.weights_sha256)

    return open_cached(cached_name(card.weights_sha256), make, threads)


def shipped_export(package: Path | None, card: ModelCard) -> Path | None:
    """The export the package carries (its card's ``onnx`` section) when it is of the current
    :data:`EXPORT_FORMAT` and its sha256 matches the card; None otherwise, with the reason logged."""
    section = card.onnx
    if package is None or section is None:
        return None
    path = package / section.file
    if section.outputs != EXPORT_FORMAT:
        log.info("%s is an export of another format (%s); not used", path, section.outputs)
        return None
    try:
        intact = sha256_of(path) == section.sha256
    except OSError as exc:
        log.warning("%s cannot be read (%s); exporting the weights instead", path, exc.strerror or exc)
        return None
    if not intact:
        log.warning("%s does not match its model card's sha256; exporting the weights instead", path)
        return None
    return path


def add_export(package: Path) -> OnnxCard:
    """Export the package's weights into it (:func:`export_into_package`) and name the export in its
    card (card.json, and card.md rendered again where the package has one); raises PackageError when the
    weights do not load."""
    card, model = load_package(package)
    section = export_into_package(package, card, model)
    write_card(package, dataclasses.replace(card, onnx=section))
    if (package / "card.md").is_file():
        (package / "card.md").write_text(render(read_card(package)), encoding="utf-8")
    return section


def export_into_package(package: Path, card: ModelCard, model: ChestNet) -> OnnxCard:
    """Export ``model`` (the package's weights, fp32) as ``model.onnx`` into ``package``: the card
    section that names it, with its sha256 and its parity with torch fp32 on the parity probe."""
    path = Path(package) / PACKAGE_FILE
    model = model.cpu().float().eval()
    export(model, path)
    probe = probe_inputs(card)
    with torch.inference_mode():
        reference = probabilities(model(torch.from_numpy(probe)), card.task)
    logits, _ = OnnxRunner(path, torch.get_num_threads()).forward(probe)
    gap = float((probabilities(torch.from_numpy(logits), card.task) - reference).abs().max())
    return OnnxCard(file=PACKAGE_FILE, sha256=sha256_of(path), outputs=EXPORT_FORMAT, opset=OPSET, parity=gap)


def _delete_other_formats(folder: Path, weights_sha256: str) -> None:
    """Delete the exports of these weights in ``folder`` of another :data:`EXPORT_FORMAT`, and the
    models quantized from them (their names start with the export's): nothing opens them any more."""
    current = cached_name(weights_sha256).removesuffix(".onnx") + "."
    for old in folder.glob(f"{weights_sha256}.*"):
        if old.suffix == ".onnx" and not old.name.startswith(current):
            with contextlib.suppress(OSError):  # another process got there first, or a read-only file
                old.unlink()
                log.info("deleted %s, an export of an older format", old)


def open_cached(name: str, make: Callable[[Path], None], threads: int, precision: str = "fp32") -> OnnxRunner:
    """A runner of the ONNX file ``name`` in the cache folder when ONNX Runtime can open it, else of one
    ``make(path)`` writes there."""
    path = cache_folder() / name
    if path.is_file():
        try:
            return OnnxRunner(path, threads, precision)
        except FAILURES as exc:
            log.warning("cached ONNX file %s cannot be opened (%s); making it again", path, exc)
    try:
        make(path)
    except OSError as exc:
        raise OSError(f"cannot write {path} ({exc.strerror or exc})") from exc
    log.info("wrote the ONNX file %s", path)
    return OnnxRunner(path, threads, precision)


def parity_runner(
    model: ChestNet,
    package: Path | None,
    card: ModelCard,
    batch: torch.Tensor,
    reference: torch.Tensor,
    to_scores: Callable[[torch.Tensor], torch.Tensor],
) -> OnnxRunner | None:
    """The ONNX Runtime runner when its scores of ``batch`` agree with torch's ``reference`` scores
    within :data:`PARITY_TOLERANCE`; None (and the reason logged) when they do not or it cannot run."""
    try:
        runner = open_runner(model, package, card, torch.get_num_threads())
        logits, _ = runner.forward(batch.cpu().numpy())
    except FAILURES as exc:
        log.warning("ONNX Runtime backend unavailable (%s); using torch", exc)
        return None
    gap = (to_scores(torch.from_numpy(logits)) - reference).abs().max().item()
    if gap > PARITY_TOLERANCE:
        log.warning(
            "ONNX Runtime differs from torch by %.2g (> %.0e) on the parity probe; using torch",
            gap,
            PARITY_TOLERANCE,
        )
        return None
    log.info("ONNX Runtime parity gap %.2g on the parity probe -> using onnx (%s)", gap, runner.path)
    return runner


def wants_onnx(backend: str, device: torch.device, architecture: str = "densenet121") -> bool:
    """Whether to try ONNX Runtime for ``backend`` (auto, torch or onnx) on ``device`` for a network of
    ``architecture``; an explicit ``onnx`` that cannot run is a ValueError, ``auto`` quietly keeps torch."""
    if backend == "torch":
        return False
    problem = "" if architecture in ARCHITECTURES else f"it exports DenseNet-121 only, not {architecture}"
    problem = problem or ("" if device.type == "cpu" else f"it runs on the CPU, not {device.type}")
    problem = problem or ("" if runtime_available() else "onnxruntime is not installed")
    if problem and backend == "onnx":
        raise ValueError(f"the onnx backend cannot be used: {problem}")
    return not problem
