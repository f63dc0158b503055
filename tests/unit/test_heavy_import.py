"""The model-loading thread imports torch without long GIL holds: libraries preloaded, collection paused."""

from __future__ import annotations

import gc
import subprocess
import sys
import textwrap

import pytest

from inference.runtime.heavy_import import collection_paused, preload_torch_libraries


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the preload is Linux-only")
def test_preload_maps_libtorch_before_the_import_and_torch_still_works():
    probe = textwrap.dedent(
        """
        import sys
        from inference.runtime.heavy_import import preload_torch_libraries
        loaded = preload_torch_libraries()
        maps = open("/proc/self/maps").read()
        assert "torch" not in sys.modules
        print(loaded, "libtorch_cpu.so" in maps)
        import torch
        print(float(torch.ones(2).sum()))
        """
    )
    command = [sys.executable, "-c", probe]
    out = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.split("\n")[:2] == ["['libtorch_cpu.so', 'libtorch_python.so'] True", "2.0"]


def test_preload_does_nothing_once_torch_is_imported():
    import torch  # noqa: F401 - the test process has it already; make it explicit

    assert preload_torch_libraries() == []


def test_collection_paused_defers_collection_then_freezes_survivors():
    gc.unfreeze()
    assert gc.isenabled()
    with collection_paused():
        assert not gc.isenabled()
        kept = [object() for _ in range(10)]
    assert gc.isenabled() and gc.get_freeze_count() > 0 and kept
    gc.unfreeze()


def test_collection_paused_keeps_a_disabled_collector_disabled():
    gc.disable()
    try:
        with collection_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
        gc.unfreeze()
