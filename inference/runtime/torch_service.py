"""The model service on torch: CUDA and MPS, bf16, ``--backend torch``, and networks with no ONNX
export (EfficientNet-Lite0). The reference the ONNX Runtime service is held to."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

import numpy as np
import torch

from inference.api import ModelCard
from inference.gate import load_gate
from inference.models.architectures import ChestNet
from inference.runtime.backends.probe import probe_inputs
from inference.runtime.explain import captum_cams, forward_cams, has_closed_form
from inference.runtime.model_service import Cams, ModelService

log = logging.getLogger(__name__)

PARITY_TOLERANCE = 0.02  # max |p_bf16 - p_fp32| on the parity probe before bf16 is used
RUNTIME = "torch fp32"  # what makes the heat maps, in words


class TorchService(ModelService):
    """Scores, embeddings and heat maps of a torch network on one device."""

    backend = "torch"

    def __init__(
        self,
        card: ModelCard,
        model: ChestNet,
        device: str = "cpu",
        tta: str = "none",
        precision: str = "fp32",
        package: Path | None = None,
    ) -> None:
        """``device`` is resolved (cpu, cuda or mps: :func:`inference.runtime.device.resolve_device`);
        ``package`` is the folder the weights came from (its gate is loaded from there).

        ``precision`` is fp32 unless bf16 is asked for, which is used only where the hardware runs it
        natively and it agrees with fp32 on the fixed parity probe: settled here, once, so that it never
        depends on the images a run scores first.
        """
        if precision not in ("fp32", "bf16"):
            raise ValueError(f"torch scores in fp32 or bf16, not {precision}")
        super().__init__(card, tta, load_gate(package, card) if package is not None else None)
        self._device = torch.device(device)
        exact_fp32(self._device)
        self._model = model.to(self._device).to(memory_format=torch.channels_last).eval()
        self.closed_form = has_closed_form(model)
        self._dtype = torch.float32
        if precision == "bf16":
            self._settle_bf16(bf16_dtype(self._device))
        log.info("scoring with torch %s on %s", self.precision, self.device)

    def _settle_bf16(self, bf16: torch.dtype) -> None:
        probe = self._tensor(probe_inputs(self._card))
        reference = self._forward(probe, torch.float32)[0]
        gap = float(np.abs(self._forward(probe, bf16)[0] - reference).max())
        if gap <= PARITY_TOLERANCE:
            self._dtype = bf16
        else:
            log.warning("bf16 differs from fp32 by %.4f (> %.2f) on the probe", gap, PARITY_TOLERANCE)

    @property
    def device(self) -> str:
        return self._device.type

    @property
    def precision(self) -> str:
        return "bf16" if self._dtype == torch.bfloat16 else "fp32"

    def _tensor(self, batch: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(batch, np.float32)).to(self._device)

    def _forward(self, batch: torch.Tensor, dtype: torch.dtype) -> tuple[np.ndarray, np.ndarray]:
        """Scores and pooled features (fp32) of one forward pass."""
        reduced = dtype != torch.float32
        autocast = torch.autocast(self._device.type, dtype=dtype) if reduced else contextlib.nullcontext()
        with torch.inference_mode(), autocast:
            logits, pooled = self._model.forward_with_embedding(batch)
            return self._scores(logits.float().cpu().numpy()), pooled.float().cpu().numpy()

    def _run(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        tensor = self._tensor(batch).contiguous(memory_format=torch.channels_last)
        return self._forward(tensor, self._dtype)

    def _cams(self, inputs: np.ndarray) -> Cams:
        x, model = self._tensor(inputs), self._model
        cams, logits = forward_cams(model, x) if has_closed_form(model) else captum_cams(model, x)
        return Cams(cams.cpu().numpy(), logits.cpu().numpy(), RUNTIME)


def bf16_dtype(device: torch.device) -> torch.dtype:
    """bfloat16, where the hardware runs it natively (CUDA; CPUs with AVX512-BF16/AMX); a ValueError
    saying why elsewhere (bf16 is only used when asked for)."""
    if device.type == "cuda" or (
        device.type == "cpu"
        and torch.backends.mkldnn.is_available()
        and torch.ops.mkldnn._is_mkldnn_bf16_supported()
    ):
        return torch.bfloat16
    raise ValueError(f"bf16 precision cannot be used: {device.type} here has no native bf16")


def exact_fp32(device: torch.device) -> None:
    """fp32 means fp32 on CUDA too: no TF32 convolutions or matrix products (torch allows TF32 in cuDNN
    convolutions by default, which moves probabilities by about 1e-3)."""
    if device.type == "cuda":
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
