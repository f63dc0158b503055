"""Resumable training state: written atomically every epoch, read back without unpickling code."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

LAST = "last.pt"
BEST = "best.pt"


def _atomic_save(obj: Any, path: Path) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def save_checkpoint(
    folder: Path,
    *,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    epoch: int,
    best_score: float,
    best_epoch: int,
    history: list[dict[str, float]],
    config: dict[str, Any],
    is_best: bool,
) -> None:
    """``last.pt`` holds everything needed to resume after ``epoch``; ``best.pt`` the best weights."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "epoch": epoch,
        "best_score": best_score,
        "best_epoch": best_epoch,
        "history": history,
        "config": config,
    }
    _atomic_save(state, folder / LAST)
    if is_best:
        _atomic_save({"model": model.state_dict(), "epoch": epoch, "score": best_score}, folder / BEST)


def load_checkpoint(path: Path) -> dict[str, Any]:
    """A checkpoint written by :func:`save_checkpoint` (tensors and plain data only)."""
    return torch.load(Path(path), map_location="cpu", weights_only=True)
