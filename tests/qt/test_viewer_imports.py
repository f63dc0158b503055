"""Layering: the viewer reaches torch only through a loaded model, never at import time."""

from __future__ import annotations

import subprocess
import sys

VIEWER_MODULES = [
    "viewer.gui",
    "viewer.qpa_check",
    "viewer.core.worklist",
    "viewer.core.settings",
    "viewer.core.errorlog",
    "viewer.core.worklist_export",
    "viewer.qt.main_window",
    "viewer.qt.session",
    "viewer.qt.model_thread",
    "viewer.qt.workers",
    "viewer.qt.worklist_model",
    "viewer.qt.worklist_panel",
    "viewer.qt.actions",
]

PROBE = """
import sys, os
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
for name in {modules!r}:
    __import__(name)
{extra}
heavy = sorted(m for m in ("torch", "torchvision", "captum") if m in sys.modules)
print("HEAVY:" + ",".join(heavy))
"""


def run_probe(extra: str = "") -> str:
    code = PROBE.format(modules=VIEWER_MODULES, extra=extra)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    return out.stdout.strip().splitlines()[-1]


def test_viewer_and_a_window_without_a_model_do_not_import_torch(tmp_path):
    extra = f"""
from PySide6.QtWidgets import QApplication
app = QApplication([])
from viewer.gui import create_window
from viewer.core.settings import Settings
w = create_window(settings_path={str(tmp_path / "s.json")!r}, load_model=False)
w.session.worklist_model.set_thresholds({{"Effusion": 0.5}})
w.close()
"""
    assert run_probe(extra) == "HEAVY:"


def test_core_does_not_import_qt():
    core = "viewer.core.worklist, viewer.core.settings, viewer.core.errorlog, viewer.core.worklist_export"
    heavy = "('PySide6', 'pyqtgraph', 'torch')"
    code = f"import sys, {core}\nprint(sorted(m for m in sys.modules if m.startswith({heavy})))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == "[]"
