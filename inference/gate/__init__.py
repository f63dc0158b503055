"""The safety gate in front of the model's scores (see :mod:`inference.gate.check`)."""

from inference.gate.check import OUTSIDE_TRAINING, Gate, Verdict, describe, load_gate
from inference.gate.stats import GATE_FILE, METHOD, GateStats

__all__ = ["GATE_FILE", "METHOD", "OUTSIDE_TRAINING", "Gate", "GateStats", "Verdict", "describe", "load_gate"]
