"""The guard against PySide6 6.12.0's missing references to None/True on CPython 3.11."""

from __future__ import annotations

import subprocess
import sys

CODE = """
import sys
from viewer import pyside_compat
applied = pyside_compat.apply()
from PySide6.QtCore import QObject, Signal
class S(QObject):
    s = Signal()
o = S()
for _ in range(200_000):  # far more than None's natural reference count on 3.11
    o.setObjectName("x")
    o.s.emit()
print("survived", applied)
"""


def test_many_qt_calls_do_not_exhaust_none_or_true():
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-500:]
    assert out.stdout.startswith("survived")


def test_apply_is_idempotent():
    from viewer import pyside_compat

    first = pyside_compat.apply()
    assert pyside_compat.apply() == first
