"""The machine a benchmark ran on, in one line: the CPU's model name, its logical cores, and the
instruction-set flags that change what fp32, bf16 and int8 run on (every figure names its CPU)."""

from __future__ import annotations

import os
from pathlib import Path

FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8")


def cpu() -> str:
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    name = next((line.split(":", 1)[1].strip() for line in info.splitlines() if "model name" in line), "?")
    flags = next(
        (line.split(":", 1)[1].split() for line in info.splitlines() if line.startswith("flags")), []
    )
    present = " ".join(f for f in FLAGS if f in flags) or "none of " + " ".join(FLAGS)
    return f"{name}, {os.cpu_count()} logical cores; flags: {present}"
