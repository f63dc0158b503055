"""The ONNX Runtime backend: the package's DenseNet exported to ONNX and run by ONNX Runtime on the CPU.

The network is exported once per set of weights (legacy TorchScript exporter: it needs nothing beyond
torch and onnx, works offline and exports DenseNet in about a second; the dynamo exporter would add
onnxscript to the pins) with two outputs, the logits and the pooled norm5 features, and kept in
``onnx-cache/<weights sha256>.onnx`` inside the package folder, or, where that folder cannot be
written (an installed wheel), in the user's data folder. An export is never trusted as such: the
model service compares it with torch on its first batch (:func:`parity_runner`) and keeps torch when
they differ by more than :data:`PARITY_TOLERANCE`.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
from torch import nn

from inference.models.densenet import CheXDenseNet
from inference.store.location import data_dir

log = logging.getLogger(__name__)

PARITY_TOLERANCE = 1e-4  # max |p_onnx - p_torch| on the first batch before ONNX Runtime is used
CACHE_FOLDER = "onnx-cache"
OPSET = 17
INPUT, OUTPUTS = "input", ("logits", "pooled")
FAILURES = (OSError, RuntimeError, ValueError)  # what export, files and the runner raise


def runtime_available() -> bool:
    """Whether ONNX Runtime is installed (found without importing it)."""
    return importlib.util.find_spec("onnxruntime") is not None


def cache_folders(package: Path | None) -> list[Path]:
    """Where exports are looked for and written, in order: beside the weights, then the data folder."""
    return ([package / CACHE_FOLDER] if package is not None else []) + [data_dir() / CACHE_FOLDER]


class _WithEmbedding(nn.Module):
    """What is exported: logits and pooled features of one forward pass."""

    def __init__(self, model: CheXDenseNet) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.model.forward_with_embedding(x)


def export(model: CheXDenseNet, path: Path) -> None:
    """Write ``model`` (on the CPU, fp32) as ONNX to ``path`` atomically: batch and image size are dynamic."""
    wrapper = _WithEmbedding(model).eval()  # eval() on the wrapper: the exporter restores its mode afterwards
    example = torch.zeros(1, model.in_channels, 224, 224)
    axes = {INPUT: {0: "batch", 2: "height", 3: "width"}, **{name: {0: "batch"} for name in OUTPUTS}}
    with atomic_file(path) as temporary, warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the legacy exporter's deprecation notices
        torch.onnx.export(
            wrapper, (example,), temporary, dynamo=False, opset_version=OPSET,
            input_names=[INPUT], output_names=list(OUTPUTS), dynamic_axes=axes,
        )  # fmt: skip


@contextlib.contextmanager
def atomic_file(path: Path) -> Iterator[Path]:
    """A temporary file beside ``path`` to write, moved onto ``path`` when the block ends without error."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(temporary)
        os.chmod(temporary, 0o644)  # mkstemp's 0600 would hide a shared package's export from other users
        os.replace(temporary, path)  # readers (another process, another Ray worker) see all of it or none
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)


class OnnxRunner:
    """An ONNX Runtime session of one exported network: numpy batch in, logits and pooled features out."""

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
        feed = {INPUT: np.ascontiguousarray(batch, np.float32)}
        with _as_runtime_error():
            logits, pooled = self._session.run(list(OUTPUTS), feed)
        return logits, pooled


@contextlib.contextmanager
def _as_runtime_error() -> Iterator[None]:
    """ONNX Runtime's errors derive from Exception alone: raise them as RuntimeError."""
    try:
        yield
    except Exception as exc:
        raise RuntimeError(f"ONNX Runtime: {exc}") from exc


def open_runner(model: CheXDenseNet, package: Path | None, weights_sha256: str, threads: int) -> OnnxRunner:
    """A runner of the cached export of these weights, exporting it first when no cache folder has it
    (or has a copy ONNX Runtime cannot open)."""
    return open_cached(package, f"{weights_sha256}.onnx", lambda path: export(model, path), threads)


def open_cached(
    package: Path | None, name: str, make: Callable[[Path], None], threads: int, precision: str = "fp32"
) -> OnnxRunner:
    """A runner of the ONNX file ``name`` from the first cache folder that has one ONNX Runtime can open,
    else of one ``make(path)`` writes into the first cache folder that can take it."""
    for folder in cache_folders(package):
        if (folder / name).is_file():
            try:
                return OnnxRunner(folder / name, threads, precision)
            except FAILURES as exc:
                log.warning("cached ONNX file %s cannot be opened (%s); making it again", folder / name, exc)
    problems = []
    for folder in cache_folders(package):
        try:
            make(folder / name)
        except OSError as exc:  # a folder we cannot write (an installed package): try the next
            problems.append(f"{folder}: {exc.strerror or exc}")
            continue
        log.info("wrote the ONNX file %s", folder / name)
        return OnnxRunner(folder / name, threads, precision)
    raise OSError(f"no folder can take {name} ({'; '.join(problems)})")


def parity_runner(
    model: CheXDenseNet,
    package: Path | None,
    weights_sha256: str,
    batch: torch.Tensor,
    reference: torch.Tensor,
    to_scores: Callable[[torch.Tensor], torch.Tensor],
) -> OnnxRunner | None:
    """The ONNX Runtime runner when its scores of ``batch`` agree with torch's ``reference`` scores
    within :data:`PARITY_TOLERANCE`; None (and the reason logged) when they do not or it cannot run."""
    try:
        runner = open_runner(model, package, weights_sha256, torch.get_num_threads())
        logits, _ = runner.forward(batch.cpu().numpy())
    except FAILURES as exc:
        log.warning("ONNX Runtime backend unavailable (%s); using torch", exc)
        return None
    gap = (to_scores(torch.from_numpy(logits)) - reference).abs().max().item()
    if gap > PARITY_TOLERANCE:
        log.warning(
            "ONNX Runtime differs from torch by %.2g (> %.0e) on the first batch; using torch",
            gap,
            PARITY_TOLERANCE,
        )
        return None
    log.info("ONNX Runtime parity gap %.2g on the first batch -> using onnx (%s)", gap, runner.path)
    return runner


def wants_onnx(backend: str, device: torch.device) -> bool:
    """Whether to try ONNX Runtime for ``backend`` (auto, torch or onnx) on ``device``; an explicit
    ``onnx`` that cannot run here is a ValueError, ``auto`` quietly keeps torch."""
    if backend == "torch":
        return False
    problem = "" if device.type == "cpu" else f"it runs on the CPU, not {device.type}"
    problem = problem or ("" if runtime_available() else "onnxruntime is not installed")
    if problem and backend == "onnx":
        raise ValueError(f"the onnx backend cannot be used: {problem}")
    return not problem
