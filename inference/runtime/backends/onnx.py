"""The ONNX Runtime backend: the package's DenseNet exported to ONNX and run by ONNX Runtime on the CPU,
with numpy and onnxruntime alone (no torch: this is the reading station's runtime).

DenseNet-121 only (:data:`ARCHITECTURES`: the only network whose export and parity were measured).

A package carries its export, ``model.onnx``, named with its sha256 and its parity with torch fp32 in
its card's ``onnx`` section (:func:`shipped_export`; written by :mod:`inference.runtime.backends.onnx_export`,
which ``cxr-triage model export``, ``model import`` and training's publish call). A package that
carries none is exported once, where torch is installed, into the user's data folder
(``onnx-cache/<weights sha256>.<EXPORT_FORMAT>.onnx``, :func:`cached_export`), and written there only
when its parity with torch holds. A package folder is never written at run time. The export has three
outputs: the logits and the pooled norm5 features, which scoring reads, and the norm5 feature map
itself, from which :mod:`inference.runtime.gradcam` makes every finding's heat map. An export of other outputs
(an older format) is never opened.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from inference.api import ModelCard
from inference.models.card import sha256_of
from inference.store.location import data_dir

log = logging.getLogger(__name__)

PARITY_TOLERANCE = 1e-4  # max |p_onnx - p_torch| on the parity probe for an export to be used
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


def cpu_threads() -> int:
    """The threads ONNX Runtime scores with: the cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def cache_folder() -> Path:
    """Where exports of packages that carry none, and quantized models, are kept: the user's data folder."""
    return data_dir() / CACHE_FOLDER


def cached_name(weights_sha256: str) -> str:
    """The file name of the export of these weights in the current :data:`EXPORT_FORMAT`."""
    return f"{weights_sha256}.{EXPORT_FORMAT}.onnx"


def readable_by_all(path: Path) -> None:
    """An export in a package another user runs must be readable by that user, whatever the umask."""
    os.chmod(path, 0o644)


class OnnxRunner:
    """An ONNX Runtime session of one exported network: numpy batch in, logits and pooled features out
    for scoring, logits and the feature map for heat maps."""

    def __init__(self, path: Path, threads: int, precision: str = "fp32") -> None:
        import onnxruntime as ort  # onnxruntime: only when a session opens

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


def shipped_export(package: Path | None, card: ModelCard) -> Path | None:
    """The export the package carries (its card's ``onnx`` section) when it is of the current
    :data:`EXPORT_FORMAT`, its recorded parity holds and its sha256 matches the card; None otherwise,
    with the reason logged."""
    section = card.onnx
    if package is None or section is None:
        return None
    path = package / section.file
    if section.outputs != EXPORT_FORMAT:
        log.info("%s is an export of another format (%s); not used", path, section.outputs)
        return None
    if section.parity > PARITY_TOLERANCE:
        log.warning(
            "%s differs from torch by %.2g (> %.0e); not used", path, section.parity, PARITY_TOLERANCE
        )
        return None
    try:
        intact = sha256_of(path) == section.sha256
    except OSError as exc:
        log.warning("%s cannot be read (%s)", path, exc.strerror or exc)
        return None
    if not intact:
        log.warning("%s does not match its model card's sha256; not used", path)
        return None
    return path


def cached_export(card: ModelCard) -> Path | None:
    """The export of the card's weights in the data folder, when an earlier run wrote one (only ever
    written once its parity with torch held:
    :func:`inference.runtime.backends.onnx_export.export_to_cache`)."""
    path = cache_folder() / cached_name(card.weights_sha256)
    return path if path.is_file() else None


def discard_cached(path: Path) -> bool:
    """Delete ``path`` when it is a file of the cache folder (an export ONNX Runtime cannot open); whether
    it was."""
    if path.parent != cache_folder():
        return False
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    return True


def find_export(package: Path | None, card: ModelCard) -> Path | None:
    """The export to score with: the package's own (:func:`shipped_export`), else the cached one."""
    return shipped_export(package, card) or cached_export(card)


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
