"""Keep PySide6 6.12.0 from crashing CPython 3.11.

That release returns ``None`` from every void method (and ``True`` from ``Signal.emit``) without
taking a reference. On CPython 3.12+ these singletons are immortal, so nothing happens; on 3.11
each call takes one reference away, and after a few thousand Qt calls the interpreter aborts with
``Fatal Python error: none_dealloc`` (or ``bool_dealloc``). We do what 3.12 does: give the three
singletons so many references that no session can use them up. Applied only where a probe sees the
leak, so a fixed PySide6 or a newer Python is left alone. No Qt import happens at module level.
"""

from __future__ import annotations

import ctypes
import sys

_BALLAST = 1 << 48  # references added to None, True and False (Py_ssize_t counts go to 2**63)
_PROBE_CALLS = 64
_applied = False


def leaks_singletons() -> bool:
    """True when a PySide6 void call or signal emit takes away a reference to None or True."""
    from PySide6.QtCore import QObject, Signal

    class _Probe(QObject):
        ping = Signal()

    probe = _Probe()
    before = sys.getrefcount(None), sys.getrefcount(True)
    for _ in range(_PROBE_CALLS):
        probe.setObjectName("probe")
        probe.ping.emit()
    after = sys.getrefcount(None), sys.getrefcount(True)
    return any(b - a < -_PROBE_CALLS // 2 for a, b in zip(before, after, strict=True))


def _pin(obj: object) -> None:
    # ob_refcnt is the first field of every CPython object.
    ctypes.c_ssize_t.from_address(id(obj)).value += _BALLAST


def apply() -> bool:
    """Make None/True/False effectively immortal if this PySide6 needs it; returns whether it did."""
    global _applied
    if _applied:
        return True
    if sys.implementation.name != "cpython" or sys.version_info >= (3, 12) or not leaks_singletons():
        return False
    for obj in (None, True, False):
        _pin(obj)
    _applied = True
    return True
