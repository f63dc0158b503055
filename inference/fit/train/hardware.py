"""What the CPU offers for mixed precision."""

from __future__ import annotations

from pathlib import Path


def cpu_has_fast_bf16() -> bool:
    """True when the CPU computes bfloat16 natively (AMX or AVX-512 BF16); else autocast slows down."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def use_amp(mode: str) -> bool:
    return mode == "on" or (mode == "auto" and cpu_has_fast_bf16())
