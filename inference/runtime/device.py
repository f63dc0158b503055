"""Choosing where the model runs: CUDA, then Apple MPS, then the CPU.

Decided without importing torch where no GPU can be there (no NVIDIA driver, not an Apple Silicon Mac,
or torch not installed): the reading station scores on the CPU with ONNX Runtime and never loads torch.
"""

from __future__ import annotations

import importlib.util
import platform
import sys
from pathlib import Path

from inference.runtime.options import DEVICES

NVIDIA_DRIVER = (Path("/proc/driver/nvidia/version"), Path("/dev/nvidiactl"))  # Linux


def torch_installed() -> bool:
    """Whether torch can be imported here (the training install), found without importing it."""
    return importlib.util.find_spec("torch") is not None


def gpu_possible() -> bool:
    """Whether torch might find a GPU here: torch is installed and an NVIDIA driver is loaded (Linux;
    elsewhere than Linux and macOS, torch is asked) or this is an Apple Silicon Mac."""
    if not torch_installed():
        return False
    if sys.platform.startswith("linux"):
        return any(path.exists() for path in NVIDIA_DRIVER)
    if sys.platform == "darwin":
        return platform.machine() == "arm64"
    return True


def resolve_device(requested: str = "auto") -> str:
    """The device to run on, ``cpu``, ``cuda`` or ``mps``: the requested one, or for ``auto`` the best
    available. torch is imported only when a GPU is asked for or may be there."""
    if requested not in DEVICES:
        raise ValueError(f"unknown device {requested!r}; choose one of {', '.join(DEVICES)}")
    if requested == "cpu" or (requested == "auto" and not gpu_possible()):
        return "cpu"
    if not torch_installed():
        raise ValueError(f"{requested} needs torch, which this installation does not have")
    import torch  # torch: only when a GPU is asked for or may be there

    cuda, mps = torch.cuda.is_available(), torch.backends.mps.is_available()
    if requested == "cuda" and not cuda:
        raise ValueError("CUDA was requested but no CUDA device is available")
    if requested == "mps" and not mps:
        raise ValueError("MPS was requested but it is not available")
    if requested != "auto":
        return requested
    return "cuda" if cuda else "mps" if mps else "cpu"
