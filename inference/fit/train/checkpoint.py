"""Resumable training state: written atomically every epoch, read back without unpickling code."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch.optim.swa_utils import AveragedModel

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
    ema: AveragedModel | None = None,
) -> None:
    """``last.pt`` holds everything needed to resume after ``epoch``; ``best.pt`` the best weights
    (the averaged ones when ``ema`` is given)."""
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
    if ema is not None:
        state["ema"] = ema.state_dict()
    _atomic_save(state, folder / LAST)
    if is_best:
        best = ema.module if ema is not None else model
        _atomic_save({"model": best.state_dict(), "epoch": epoch, "score": best_score}, folder / BEST)


def load_checkpoint(path: Path) -> dict[str, Any]:
    """A checkpoint written by :func:`save_checkpoint` (tensors and plain data only)."""
    return torch.load(Path(path), map_location="cpu", weights_only=True)
