"""Choosing where the model runs (CUDA -> MPS -> CPU) and what its precisions mean there."""

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
