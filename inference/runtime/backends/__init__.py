"""Inference runtimes besides eager torch (which stays the reference, the Grad-CAM path and the GPU path)."""
