"""End-to-end fixtures."""

from __future__ import annotations

from viewer import pyside_compat

pyside_compat.apply()  # PySide6 6.12.0 on CPython 3.11 loses references to None/True: see the module
