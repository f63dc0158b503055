"""Where the bundled demo model and sample studies live in a checkout or an installed tree."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEMO_MODEL = ROOT / "models" / "cxr-demo-densenet121"
SAMPLES = ROOT / "resources" / "samples"
