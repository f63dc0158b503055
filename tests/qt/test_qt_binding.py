"""The pinned Qt binding keeps Python's reference counts intact.

PySide6 6.12.0 on CPython 3.11 drops a reference to ``None`` on every void Qt call and to ``True``
on every ``Signal.emit``; after a few thousand calls the interpreter aborts (``none_dealloc``).
requirements.txt pins a release without the bug; this test fails on one that has it.
"""

from __future__ import annotations

import subprocess
import sys

CODE = """
from PySide6.QtCore import QObject, Signal
class S(QObject):
    s = Signal()
o = S()
for _ in range(200_000):  # far more than None's natural reference count on 3.11
    o.setObjectName("x")
    o.s.emit()
print("survived")
"""


def test_many_qt_calls_do_not_exhaust_none_or_true():
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-500:]
    assert out.stdout.startswith("survived")
