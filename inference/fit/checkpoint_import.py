"""``model import``: a published checkpoint (:data:`inference.models.registry.CHECKPOINT_FORMATS`) made
into a model package, with the ONNX export the reading station runs."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from inference.api import ModelCard
from inference.fit.package_export import add_export
from inference.models.checkpoints import CheckpointError, Provenance, build_card, convert, read_checkpoint
from inference.models.densenet import CheXDenseNet
from inference.models.package import CARD, WEIGHTS, read_card, save_package, sha256_of


def import_checkpoint(
    kind: str,
    checkpoint: Path,
    dest: Path,
    *,
    name: str | None = None,
    version: str | None = None,
    labels: Sequence[str] | None = None,
    op_threshs: Sequence[float] | None = None,
    training_data: Sequence[str] = (),
    force: bool = False,
) -> ModelCard:
    """Read ``checkpoint`` of format ``kind`` and write a model package to ``dest``, with the ONNX export
    the reading station runs (named in its card)."""
    checkpoint, dest = Path(checkpoint), Path(dest)
    if dest.exists() and not dest.is_dir():
        raise CheckpointError(f"{dest}: exists and is not a folder")
    if not force and ((dest / CARD).exists() or (dest / WEIGHTS).exists()):
        raise CheckpointError(f"{dest}: already holds a model package (use --force to overwrite)")
    converted = convert(kind, read_checkpoint(checkpoint), source=str(checkpoint))
    source_sha = sha256_of(checkpoint)
    provenance = Provenance(
        name=name or f"{kind}-{checkpoint.name.split('.')[0]}",
        version=version or f"imported-{source_sha[:8]}",
        recipe=f"imported from {kind} checkpoint {checkpoint.name} (sha256 {source_sha})",
        training_data=tuple(training_data),
    )
    card = build_card(kind, converted, provenance, labels, op_threshs)
    model = CheXDenseNet(converted.num_outputs, in_channels=converted.in_channels)
    model.load_state_dict(converted.state_dict)
    save_package(dest, card, model.eval())
    add_export(dest)
    return read_card(dest)
