"""CXR Triage desktop viewer (PySide6 + pyqtgraph)."""
