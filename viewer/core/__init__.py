"""Viewer state without Qt or torch: worklist rows, ranking, settings, error log."""
