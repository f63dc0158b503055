"""Fit the feature part of a package's safety gate on the site's own radiographs (``cxr-triage model gate``).

An imported model (CheXNet, torchxrayvision) comes without the images it was trained on, so the
statistics :mod:`inference.fit.gate` takes from the training data come from radiographs the site
provides instead. Every file under the folder goes through the product's path (header rules, then
prepare_image -> predict, fp32 on the CPU); a file the product would refuse is skipped and
counted. A seeded random split keeps a fraction of the images read for calibration: the rest fit the
PPCA statistics and the orientation direction (upright against turned four ways), and the calibration
part sets the threshold (its 99th percentile distance) and the orientation bias (its 99.5th
percentile score). No image is held out: the card says its figures are the calibration's; how the
gate does on other images shows when they are scored (``cxr-triage triage``: the worklist's ``gate``
column) or evaluated (``cxr-triage evaluate`` reports what the gate stopped).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from inference.api import Status
from inference.fit.gate import (
    ORIENTATION_QUANTILE,
    Embedded,
    distance_threshold,
    embed,
    embed_turned,
    passed,
    rate,
    write_gate,
)
from inference.gate.orientation import ORIENTATION_REPORT, calibrate, fit_direction
from inference.gate.stats import SITE_REPORT, fit_stats, stats_bytes
from inference.io import read_header
from inference.runtime.service import load_service

MIN_FIT, MIN_CALIBRATION = 40, 20


class SiteGateError(ValueError):
    """The options or the folder cannot give a gate (the message says why); nothing was written."""


@dataclasses.dataclass(frozen=True)
class SiteFit:
    """What a site fit read and measured."""

    folder: str  # the folder's name alone: a full path may hold a patient's name
    read: int
    skipped: int
    fit: int
    turned: int
    calibration: int
    calibration_pass_rate: float

    def report(self) -> dict[str, object]:
        """The card's gate report: where the figures come from, and the calibration."""
        return {
            SITE_REPORT: f"site images: {self.folder}, {self.read} images",
            "images_read": self.read,
            "files_skipped": self.skipped,
            "fit_images": self.fit,
            ORIENTATION_REPORT: {"upright": self.fit, "turned": self.turned},
            "calibration_images": self.calibration,
            "calibration_pass_rate": self.calibration_pass_rate,
        }


def fit_site_gate(
    package: Path, images: Path, calibration_fraction: float = 0.25, components: int = 32, seed: int = 0
) -> SiteFit:
    """Fit, calibrate and write the gate of ``package`` from the radiographs under ``images``.

    :class:`SiteGateError` for bad options or too few readable images; the package's own errors
    (:class:`inference.models.card.PackageError`) pass through."""
    if not 0 < calibration_fraction < 1:
        raise SiteGateError(f"--calibration-fraction must be between 0 and 1 (got {calibration_fraction})")
    if components < 1:
        raise SiteGateError(f"--components must be at least 1 (got {components})")
    if not images.is_dir():
        raise SiteGateError(f"{images} is not a folder")
    # Every file, not a folder scan: one the product refuses (a non-image too) is counted as skipped.
    files = sorted(p for p in images.rglob("*") if p.is_file())
    eligible = [e.meta.path for e in map(read_header, files) if e.status is Status.SCORED]
    service = load_service(package, device="cpu", precision="fp32")
    embedded = embed(eligible, service)
    order = np.random.default_rng(seed).permutation(len(embedded.vectors))
    n_calibration = round(len(order) * calibration_fraction)
    fit, calibration = _part(embedded, order[n_calibration:]), _part(embedded, order[:n_calibration])
    _check_counts(images, len(files), fit, calibration, components)

    stats = fit_stats(fit.vectors, components)
    threshold = distance_threshold(stats, [calibration])
    turned = embed_turned(fit.paths, service)
    orientation = calibrate(
        fit_direction(fit.vectors, turned), {"site": calibration.vectors}, ORIENTATION_QUANTILE
    )
    stats = dataclasses.replace(stats, orientation=orientation)
    result = SiteFit(
        folder=images.resolve().name,
        read=len(order),
        skipped=len(files) - len(order),
        fit=len(fit.vectors),
        turned=len(turned),
        calibration=len(calibration.vectors),
        calibration_pass_rate=rate(passed(calibration, stats, threshold)),
    )
    write_gate(package, stats_bytes(stats), components, threshold, result.report())
    return result


def _part(embedded: Embedded, indices: np.ndarray) -> Embedded:
    return Embedded(
        embedded.vectors[indices],
        embedded.flagged[indices],
        embedded.rough[indices],
        paths=tuple(embedded.paths[i] for i in indices),
    )


def _check_counts(images: Path, files: int, fit: Embedded, calibration: Embedded, components: int) -> None:
    n_fit, n_calibration = len(fit.vectors), len(calibration.vectors)
    if n_fit < MIN_FIT or n_calibration < MIN_CALIBRATION:
        read = n_fit + n_calibration
        raise SiteGateError(
            f"{images}: {read} images read ({files - read} files skipped) give {n_fit} fit and "
            f"{n_calibration} calibration images; at least {MIN_FIT} and {MIN_CALIBRATION} are needed"
        )
    # n centred embeddings span n - 1 directions: keeping them all would leave no residual variance.
    limit = min(n_fit - 2, fit.vectors.shape[1] - 1)
    if components > limit:
        raise SiteGateError(f"--components {components} is too many for {n_fit} fit images: at most {limit}")
