"""Fitting what a model package holds: training, evaluation and the safety gate's statistics."""
