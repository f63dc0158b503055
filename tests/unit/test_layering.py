"""Layering: ``inference`` is a library without Qt, and never reaches into ``viewer``."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import inference


def test_inference_imports_neither_qt_nor_the_viewer():
    modules = sorted(m.name for m in pkgutil.walk_packages(inference.__path__, "inference."))
    assert "inference.runtime.service" in modules and "inference.io.dicom" in modules
    code = (
        f"import sys\nfor name in {modules!r}:\n    __import__(name)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'viewer')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True
    )
    assert out.stdout.strip().splitlines()[-1] == "[]"
