"""The safety gate: whether an image's scores can be trusted as a frontal chest radiograph's.

It runs after the model (it needs the embedding of the scoring pass): the image statistics of
:mod:`inference.gate.image`, then, when the package ships feature statistics (the card's ``gate``
section and its file), the distance of the embedding to the training images', then, when the file
also holds one, the orientation discriminant of :mod:`inference.gate.orientation` (a turned
radiograph can lie near the training images, so the distance alone lets many through). The score an
image keeps is the distance divided by the card's threshold: above 1, the image is stopped; an
orientation score above 0 stops it too, with its own reason, while the image keeps the distance score.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from inference.api import GateCard, ModelCard, PreparedImage, Verdict
from inference.gate.image import NOT_A_RADIOGRAPH, image_problem
from inference.gate.orientation import ORIENTATION_REPORT
from inference.gate.stats import SITE_REPORT, GateStats, read_stats
from inference.models.card import invalid, sha256_of

OUTSIDE_TRAINING = f"{NOT_A_RADIOGRAPH} (outside the model's training data"  # closed with the score
TURNED = f"{NOT_A_RADIOGRAPH} (it looks rotated or upside down"  # closed with the orientation score


@dataclass(frozen=True)
class Gate:
    """Image statistics always; the feature distance when ``stats`` (with its card section) is given,
    and the orientation discriminant when ``stats`` has one."""

    stats: GateStats | None = None
    section: GateCard | None = None

    def check(self, image: PreparedImage, embedding: np.ndarray | None) -> Verdict:
        score = self.score(embedding)
        problem = image_problem(image)
        if problem:
            return Verdict(score, problem)
        if score is not None and score > 1.0:
            return Verdict(score, f"{OUTSIDE_TRAINING}: gate score {score:.2f}, limit 1)")
        turned = self.orientation_score(embedding)
        if turned is not None and turned > 0.0:
            return Verdict(score, f"{TURNED}: orientation score {turned:.2f}, limit 0)")
        return Verdict(score)

    def score(self, embedding: np.ndarray | None) -> float | None:
        if self.stats is None or self.section is None or embedding is None:
            return None
        return self.stats.distance(embedding) / self.section.threshold

    def orientation_score(self, embedding: np.ndarray | None) -> float | None:
        """Above 0: the image looks turned. None where the gate has no orientation discriminant."""
        if self.stats is None or self.stats.orientation is None or self.section is None or embedding is None:
            return None
        return self.stats.orientation.score(embedding)


def load_gate(package: Path, card: ModelCard) -> Gate:
    """The package's gate; its statistics file is checked against the card's sha256 (PackageError)."""
    section = card.gate
    if section is None:
        return Gate()
    path = Path(package) / section.file
    if not path.is_file():
        raise invalid(Path(package), [f"card.json names the gate file {section.file}, which is missing"])
    actual = sha256_of(path)
    if actual != section.sha256:
        mismatch = f"sha256 {actual[:12]}… does not match the card's {section.sha256[:12]}…"
        raise invalid(Path(package), [f"{section.file}: {mismatch}"])
    try:
        stats = read_stats(path)
    except (ValueError, OSError) as exc:
        raise invalid(Path(package), [f"{section.file} cannot be read as gate statistics ({exc})"]) from exc
    if len(stats.components) != section.components:
        raise invalid(
            Path(package),
            [f"{section.file} holds {len(stats.components)} components, the card says {section.components}"],
        )
    return Gate(stats, section)


def describe(card: ModelCard) -> str:
    """Which parts of the gate are active for ``card``, in a line for ``model info``."""
    base = "image statistics (colour, noise-like texture)"
    section = card.gate
    if section is None:
        return (
            f"{base} only: this package has no feature statistics (no gate section in its card); fit one "
            "from your own radiographs: cxr-triage model gate PACKAGE IMAGES_DIR"
        )
    whose = "the site images'" if SITE_REPORT in section.calibration else "the training images'"
    distance = (
        f"{base} + distance to {whose} features ({section.method}, {section.components} "
        f"components, {section.file}; threshold {section.threshold:.4g})"
    )
    # The card says so through its fit report: the fit writes it with the file, whose sha256 it holds.
    if ORIENTATION_REPORT in section.calibration:
        return f"{distance} + orientation discriminant (rotated or upside-down radiographs; limit 0)"
    return distance
