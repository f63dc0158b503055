"""The viewer reaches torch only through a loaded model, never at import time: one probe imports every
viewer module and opens a window without a model. (That ``viewer.core`` imports no Qt is
import-linter's contract; that the viewer scores without torch,
``tests/pacs/test_reading_station_imports.py``.)"""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import os, pkgutil, sys
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
import viewer
for module in pkgutil.walk_packages(viewer.__path__, "viewer."):
    __import__(module.name)
from PySide6.QtWidgets import QApplication
app = QApplication([])
from viewer.gui import create_window
w = create_window(settings_path={settings!r}, load_model=False)
w.session.worklist_model.set_thresholds({{"Effusion": 0.5}})
w.close()
print("MODULES:", len([m for m in sys.modules if m.startswith("viewer.")]))
print("HEAVY:" + ",".join(sorted(m for m in ("torch", "torchvision", "captum") if m in sys.modules)))
"""


def test_every_viewer_module_and_a_window_without_a_model_leave_torch_out(tmp_path):
    code = PROBE.format(settings=str(tmp_path / "s.json"))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    modules, heavy = out.stdout.strip().splitlines()[-2:]
    assert int(modules.split()[1]) > 30  # the walk found the viewer's modules
    assert heavy == "HEAVY:"
