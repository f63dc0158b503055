"""Choosing where the model runs (CUDA -> MPS -> CPU) and whether reduced precision is allowed."""

from __future__ import annotations

import torch

from inference.options import DEVICES


def select_device(requested: str = "auto") -> torch.device:
    """The requested device, or the best available one for ``auto``."""
    if requested not in DEVICES:
        raise ValueError(f"unknown device {requested!r}; choose one of {', '.join(DEVICES)}")
    if requested == "cuda" and not torch.cuda.is_available():
        raise ValueError("CUDA was requested but no CUDA device is available")
    if requested == "mps" and not torch.backends.mps.is_available():
        raise ValueError("MPS was requested but it is not available")
    if requested != "auto":
        return torch.device(requested)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def reduced_precision_candidate(device: torch.device) -> torch.dtype | None:
    """bf16 where the hardware runs it natively (CUDA; CPUs with AVX512-BF16/AMX), else None."""
    if device.type == "cuda":
        return torch.bfloat16
    if (
        device.type == "cpu"
        and torch.backends.mkldnn.is_available()
        and torch.ops.mkldnn._is_mkldnn_bf16_supported()
    ):
        return torch.bfloat16
    return None
