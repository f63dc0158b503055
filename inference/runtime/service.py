"""The model service: one loaded package on one device, answering in numpy and dataclasses.

This is the only object the viewer and the CLI use to run a model. It is not thread-safe: keep it
owned by a single worker thread. :func:`load_service` picks the runtime once, when the package loads:

- on the CPU, ONNX Runtime with numpy (:class:`inference.runtime.onnx_service.OnnxService`): the package's own
  ONNX export, or one made once where torch is installed; torch is never imported;
- torch (:class:`inference.runtime.torch_service.TorchService`) on CUDA and MPS, for bf16, for ``--backend
  torch`` and for networks with no ONNX export (EfficientNet-Lite0).

Both give the same scores within 1e-4 (the export's parity, measured when it is written) and the same
heat maps (:mod:`inference.runtime.gradcam`); each gives the same scores for an image however it is batched.
"""

from __future__ import annotations

import logging
from pathlib import Path

from inference.api import ModelCard
from inference.models.card import read_card
from inference.runtime.backends import onnx
from inference.runtime.backends.int8 import check_int8
from inference.runtime.device import resolve_device, torch_installed
from inference.runtime.heavy_import import preload_torch_libraries
from inference.runtime.model_service import ModelService
from inference.runtime.onnx_service import OnnxService
from inference.runtime.options import BACKENDS, PRECISIONS

log = logging.getLogger(__name__)

TRAINING_INSTALL = "the training install (pip install 'cxr-triage[train]')"

__all__ = ["ModelService", "load_service"]


def load_service(
    package: Path, device: str = "auto", tta: str = "none", precision: str = "fp32", backend: str = "auto"
) -> ModelService:
    """Load a model package (its card, weights, export and gate checked against the card's sha256s) and
    choose its runtime (see the module doc): ONNX Runtime on the CPU unless ``backend`` is torch,
    ``precision`` is bf16 or the network has no export; torch otherwise. A ValueError says why a request
    cannot be met (``--backend onnx`` or int8 without an export, a GPU or bf16 without torch)."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    package = Path(package)
    card = read_card(package)
    where = resolve_device(device)
    if precision == "int8":
        check_int8(backend, where)
    if backend != "torch" and where == "cpu" and precision != "bf16":
        service, problem = _onnx_service(package, card, tta, precision)
        if service is not None:
            return service
        if backend == "onnx" or precision == "int8" or not torch_installed():
            raise ValueError(f"the onnx backend cannot be used: {problem}")
    if not torch_installed():
        raise ValueError(f"{where} {precision} scoring needs torch: install {TRAINING_INSTALL}")
    return _torch_service(package, where, tta, precision)


def _onnx_service(
    package: Path, card: ModelCard, tta: str, precision: str
) -> tuple[ModelService | None, str]:
    """The ONNX Runtime service of ``package``, or None and why not. A cached export ONNX Runtime cannot
    open is deleted and made again (where torch is installed)."""
    for _ in range(2):
        export, problem = _export_of(package, card)
        if export is None:
            return None, problem
        try:
            return OnnxService.open(package, card, export, tta=tta, precision=precision), ""
        except onnx.FAILURES as exc:
            problem = f"ONNX Runtime cannot run {export} ({exc})"
            log.warning("%s", problem)
            if not onnx.discard_cached(export):
                break
    return None, problem


def _export_of(package: Path, card: ModelCard) -> tuple[Path | None, str]:
    """The ONNX export to score with (the package's, the cached one, or one exported now where torch is
    installed), or None and why there is none."""
    if card.architecture not in onnx.ARCHITECTURES:
        return None, f"it exports DenseNet-121 only, not {card.architecture}"
    if not onnx.runtime_available():
        return None, "onnxruntime is not installed"
    export = onnx.find_export(package, card)
    if export is not None:
        return export, ""
    if not torch_installed():
        return None, (
            f"{package} carries no usable ONNX export; add one with `cxr-triage model export {package}` "
            f"where {TRAINING_INSTALL} is installed"
        )
    from inference.models.package import load_package  # torch: only when an export is made here
    from inference.runtime.backends.onnx_export import export_to_cache

    _, model = load_package(package)
    export = export_to_cache(model, card)
    return export, "" if export is not None else "the ONNX export differs from torch or cannot be written"


def _torch_service(package: Path, device: str, tta: str, precision: str) -> ModelService:
    preload_torch_libraries()  # see inference.runtime.heavy_import: the GUI thread keeps running meanwhile
    from inference.models.package import load_package  # torch: only when the torch runtime is chosen
    from inference.runtime.torch_service import TorchService

    card, model = load_package(package)
    return TorchService(card, model, device=device, tta=tta, precision=precision, package=package)
