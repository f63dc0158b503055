"""Annotated PNG export from the viewer: the headless renderer (:mod:`inference.render.annotate`), the
image at its full resolution, one file per export named after the study and the finding its heat map
shows (:mod:`viewer.core.export_names`). The image never carries patient identifiers."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path

from inference.api import Heatmap, ModelCard, RankedStudy, XRayImage
from inference.render.annotate import render, write_png
from viewer.core.export_names import export_stem, unused_path


def export_path(
    study: RankedStudy, heatmap: Heatmap | None, folder: Path, deidentify: bool, taken: Collection[Path] = ()
) -> Path:
    """``folder/<accession or file stem>_<finding>.png`` (``study-<id>_<finding>.png`` when
    ``deidentify``), the finding being the heat map's, else the study's top finding; a name that
    exists or is ``taken`` gets ``_2``, ``_3``, …"""
    finding = heatmap.label if heatmap is not None else study.top_finding
    stem = export_stem(study.result.study_uid, study.result.meta, finding, deidentify)
    return unused_path(Path(folder), stem, taken)


def write_annotated(
    image: XRayImage,
    heatmap: Heatmap | None,
    study: RankedStudy,
    card: ModelCard,
    thresholds: Mapping[str, float],
    path: Path,
) -> Path:
    """Draw the annotated image and write it to ``path`` (its folder created); returns ``path``. Takes
    a few tenths of a second for a detector-sized image: never on the GUI thread."""
    return write_png(render(image, heatmap, study, card, thresholds), path)
