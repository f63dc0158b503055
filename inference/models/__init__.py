"""Model architecture and the on-disk model package (weights + card)."""
