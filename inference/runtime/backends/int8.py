"""Optional int8 for the ONNX Runtime backend: static quantization of the fp32 export.

Used only when asked for (``precision="int8"``, ONNX Runtime on the CPU) and only where its
probabilities of the parity probe agree with the fp32 export's (itself within 1e-4 of torch fp32)
within :data:`PARITY_TOLERANCE`; otherwise the service keeps the fp32 export and logs why.
ONNX Runtime's ``quantize_static``, QDQ format: per-channel int8 weights and uint8 activations for
the convolutions and the classifier (BatchNorm and ReLU stay fp32), activation ranges from a
percentile calibration over the bundled sample radiographs, each read and
prepared by the product's own path (:func:`inference.runtime.network_input.prepare_image`). The quantized file
is cached as ``<weights sha256>.<export format>.int8-<CALIBRATION_TAG>.onnx``; change the tag whenever
the calibration changes.
"""

from __future__ import annotations

import contextlib
import io
import logging
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from inference.api import PreparedImage
from inference.bundled import SAMPLES
from inference.io.atomic import atomic_path
from inference.runtime.backends import onnx
from inference.runtime.backends.onnx import (
    FAILURES,
    INPUT,
    OnnxRunner,
    cpu_threads,
    open_cached,
    readable_by_all,
    runtime_available,
)

log = logging.getLogger(__name__)

PARITY_TOLERANCE = 0.02  # max |p_int8 - p_torch_fp32| on the parity probe before int8 is used
CALIBRATION_TAG = "samples-reduced-qdq-perchannel-p99999"  # reduced: read as scoring reads
QUANTIZED_OPS = ("Conv", "Gemm")  # quantizing Concat, pooling and ReLU too cost parity and gained no speed


def check_int8(backend: str, device: str) -> None:
    """A ValueError saying why int8 cannot run with ``backend`` on ``device`` (ONNX Runtime, CPU only)."""
    problem = "" if backend != "torch" else "it runs on ONNX Runtime, not with --backend torch"
    problem = problem or ("" if device == "cpu" else f"it runs on the CPU, not {device}")
    problem = problem or ("" if runtime_available() else "onnxruntime is not installed")
    if problem:
        raise ValueError(f"int8 precision cannot be used: {problem}")


def cached_name(weights_sha256: str) -> str:
    """The file name of the quantized model of these weights' fp32 export under this calibration."""
    return f"{onnx.cached_name(weights_sha256).removesuffix('.onnx')}.int8-{CALIBRATION_TAG}.onnx"


def calibration_inputs(
    prepare: Callable[[Path], PreparedImage | str], folder: Path = SAMPLES
) -> list[np.ndarray]:
    """Network inputs (1, C, S, S) of every image in ``folder`` that can be read, in name order, each
    made by ``prepare`` (the product's path from a file to network input)."""
    inputs: list[np.ndarray] = []
    for path in sorted(folder.iterdir()):
        prepared = prepare(path)
        if isinstance(prepared, PreparedImage):  # not the folder's README, nor anything else unreadable
            inputs.extend(prepared.inputs[:, None])
    if not inputs:
        raise OSError(f"no calibration images in {folder}")
    return inputs


def quantize(source: Path, target: Path, inputs: list[np.ndarray]) -> None:
    """Write the static int8 quantization of the fp32 ONNX model ``source`` to ``target`` atomically."""
    from onnxruntime.quantization import (  # onnxruntime.quantization and onnx: only when quantizing
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._feeds: Iterator[dict[str, np.ndarray]] = iter({INPUT: x} for x in inputs)

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self._feeds, None)

    quiet = contextlib.redirect_stdout(io.StringIO())  # the calibrator prints its progress
    with tempfile.TemporaryDirectory() as work, atomic_path(target) as temporary, quiet:
        prepared = Path(work) / "prepared.onnx"  # shape inference and graph clean-up, as ORT advises
        quant_pre_process(str(source), str(prepared))
        quantize_static(
            str(prepared), str(temporary), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
            op_types_to_quantize=list(QUANTIZED_OPS), calibrate_method=CalibrationMethod.Percentile,
        )  # fmt: skip
        readable_by_all(temporary)


def int8_runner(
    fp32: OnnxRunner,
    weights_sha256: str,
    prepare: Callable[[Path], PreparedImage | str],
    batch: np.ndarray,
    reference: np.ndarray,
    to_scores: Callable[[np.ndarray], np.ndarray],
) -> OnnxRunner | None:
    """The int8 runner of the fp32 export ``fp32`` (quantized first when no cache folder holds it) when
    its scores of ``batch`` agree with the fp32 ``reference`` scores within :data:`PARITY_TOLERANCE`;
    None (and the reason logged) when they do not or it cannot be made."""

    def make(path: Path) -> None:
        quantize(fp32.path, path, calibration_inputs(prepare))

    try:
        runner = open_cached(cached_name(weights_sha256), make, cpu_threads(), "int8")
        logits, _ = runner.forward(batch)
    except FAILURES as exc:
        log.warning("int8 model unavailable (%s); using onnx fp32", exc)
        return None
    gap = float(abs(to_scores(logits) - reference).max())
    if gap > PARITY_TOLERANCE:
        log.warning(
            "int8 differs from fp32 by %.3f (> %.2f) on the parity probe; using onnx fp32",
            gap,
            PARITY_TOLERANCE,
        )
        return None
    log.info("int8 parity gap %.4f on the parity probe -> using onnx int8 (%s)", gap, runner.path)
    return runner
