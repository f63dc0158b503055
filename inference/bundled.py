"""Where the bundled demo model and sample studies live.

A checkout keeps them in the repository's top-level ``models/`` and ``resources/`` folders; a wheel
ships those two folders as package data under ``inference/_bundle/`` (see ``pyproject.toml``).
"""

from __future__ import annotations

from pathlib import Path


def _data_root() -> Path:
    """The folder holding ``models/`` and ``resources/``: the installed package data, else the checkout."""
    package = Path(__file__).resolve().parent
    installed = package / "_bundle"
    return installed if installed.is_dir() else package.parent


DEMO_MODEL = _data_root() / "models" / "cxr-demo-densenet121"
SAMPLES = _data_root() / "resources" / "samples"
