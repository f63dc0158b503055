"""Importing torch and loading a model on a worker thread without stalling the other threads.

Two things held the GIL for 100-200 ms at a time while the model loaded (a GUI thread waiting for
it stalls that long; bench/gui_stalls.py):

- ``import torch`` runs the dynamic loader on libtorch (hundreds of MB, thousands of static operator
  registrations) inside the import. A foreign call through ctypes releases the GIL, so ``dlopen``
  called that way does the same loading while other threads run; torch's own import then finds the
  libraries in memory. Linux only, best effort: what does not load here torch loads as usual.
- The import creates about 700,000 Python objects, and every full cyclic garbage collection while
  it runs walks all of them. :func:`collection_paused` defers collection until the load is done and
  then freezes what exists (modules, functions, classes: never garbage) out of later collections.
"""

from __future__ import annotations

import ctypes
import gc
import importlib.util
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)

RTLD_NOW, RTLD_GLOBAL = 0x2, 0x100
LIBRARIES = ("libtorch_cpu.so", "libtorch_python.so")  # the ones torch._C's import waits for


def torch_library_dir() -> Path | None:
    """torch's ``lib`` folder, found without importing torch."""
    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "lib"


def preload_torch_libraries() -> list[str]:
    """dlopen torch's big libraries with the GIL released; the names that loaded (none off Linux)."""
    if not sys.platform.startswith("linux") or "torch" in sys.modules:
        return []
    folder = torch_library_dir()
    if folder is None:
        return []
    dlopen = ctypes.CDLL(None).dlopen  # a CDLL function: the call releases the GIL
    dlopen.argtypes, dlopen.restype = (ctypes.c_char_p, ctypes.c_int), ctypes.c_void_p
    loaded = []
    for name in LIBRARIES:
        path = folder / name
        if path.is_file() and dlopen(str(path).encode(), RTLD_NOW | RTLD_GLOBAL):
            loaded.append(name)
        else:
            log.debug("not preloaded: %s", path)
    return loaded


@contextmanager
def collection_paused() -> Iterator[None]:
    """No cyclic garbage collection inside (for every thread); afterwards, the objects that survived
    are moved out of the collector's way (``gc.freeze``). Reference counting frees memory as usual."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()
