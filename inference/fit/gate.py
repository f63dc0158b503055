"""Fit and calibrate the safety gate of a model package from the public data folder, and report it.

    .venv/bin/python scripts/fit_gate.py PACKAGE DATA_DIR [--components K] [--per-source N]
        [--orientation-per-source M]

The training split the package's model saw (rebuilt from DATA_DIR with the training run's seed and
fractions, as ``retrain.sh``) fits the statistics; the validation split sets the threshold (the
highest per-source 99th percentile of the distances, so each population passes about 99%). The
orientation discriminant is fitted on M of those training images per source, embedded upright and
turned four ways (90° either way, 180°, flipped upside down); its bias is set on the same validation
images, upright (the highest per-source 99.5th percentile of their scores). The held-out test split
(also turned, to measure the orientation rule), the bundled samples and negatives (pydicom's own
non-radiograph test images, the hip radiographs, generated images) are only measured, never used to
fit or calibrate; every figure applies all the gate's rules. Every image goes through the product's
path (prepare_image -> predict, fp32). Writes ``gate.npz`` and the card's ``gate`` section
(via the validating writer), and renders ``card.md`` again (its gate section comes from that card
section).
DATA_DIR is read by this script only, run by hand.
"""

from __future__ import annotations

import dataclasses
import hashlib
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import cv2
import numpy as np
import pydicom
from pydicom.data import get_testdata_files

from inference.api import GateCard, PreparedImage
from inference.fit.card_md import render_into
from inference.fit.train.datasets import exclude, read_dataset
from inference.fit.train.splits import split_by_patient
from inference.gate.image import image_problem, roughness
from inference.gate.orientation import ORIENTATION_REPORT, calibrate, fit_direction
from inference.gate.stats import GATE_FILE, METHOD, GateStats, fit_stats, stats_bytes
from inference.io import read_image
from inference.models.card import read_card, write_card
from inference.runtime.network_input import prepare_image
from inference.runtime.scoring import predict_each
from inference.runtime.service import load_service

VAL_FRACTION, TEST_FRACTION, SEED = 0.15, 0.2, 0  # as models/cxr-demo-densenet121/retrain.sh
ROOT = Path(__file__).resolve().parents[2]
PASS_QUANTILE = 0.99
# Stricter than the distance's 0.99: the upright radiographs this rule stops add to those it stops.
ORIENTATION_QUANTILE = 0.995
TURNS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "rotated 90° counter-clockwise": lambda im: np.ascontiguousarray(np.rot90(im)),
    "rotated 90° clockwise": lambda im: np.ascontiguousarray(np.rot90(im, -1)),
    "rotated 180°": lambda im: np.ascontiguousarray(np.rot90(im, 2)),
    "upside down": lambda im: np.ascontiguousarray(im[::-1]),
}


@dataclasses.dataclass
class Embedded:
    """Embeddings and image-statistics verdicts of a group of images, and how many the readers
    refused (corrupt, blank, noise: never scored, so stopped before the gate)."""

    vectors: np.ndarray
    flagged: np.ndarray  # the image statistics stop it
    rough: np.ndarray
    unreadable: int = 0
    paths: tuple[Path, ...] = ()  # the file of each vector (the site fit turns its fit part's)


def _samples(data: Path) -> dict[str, dict[str, list[Path]]]:
    """split -> source -> image paths, the training run's patient split."""
    class_map = {"NORMAL": "", "PNEUMONIA": "Pneumonia"}
    samples = read_dataset(f"nih={data / 'nih-pneumonia-subset' / 'labels.csv'}", class_map)
    samples += read_dataset(f"kermany={data / 'kermany-pediatric-224' / 'train'}", class_map)
    samples, _ = exclude(samples, {f.name for f in (ROOT / "resources" / "samples").iterdir()})
    out: dict[str, dict[str, list[Path]]] = {}
    for split, indices in split_by_patient(samples, VAL_FRACTION, TEST_FRACTION, SEED).items():
        for i in indices:
            out.setdefault(split, {}).setdefault(samples[i].source, []).append(samples[i].path)
    return out


def _subsample(paths: list[Path], n: int, seed: int) -> list[Path]:
    if len(paths) <= n:
        return paths
    return [paths[i] for i in sorted(np.random.default_rng(seed).choice(len(paths), n, replace=False))]


def embed(
    paths: Sequence[Path], service: object, transform: Callable[[np.ndarray], np.ndarray] | None = None
) -> Embedded:
    prepared: list[PreparedImage] = []
    sources: list[Path] = []
    unreadable = 0
    with tempfile.TemporaryDirectory() as tmp:
        for i, source in enumerate(paths):
            path = source if transform is None else _transformed(source, transform, Path(tmp) / f"{i}.png")
            item = prepare_image(path, service)  # type: ignore[arg-type]
            if isinstance(item, PreparedImage):
                prepared.append(item)
                sources.append(source)
            else:
                unreadable += 1
    vectors, flagged, rough, kept = [], [], [], []
    for start in range(0, len(prepared), 16):
        batch = prepared[start : start + 16]
        for item, source, prediction in zip(
            batch,
            sources[start : start + 16],
            predict_each(service, batch),  # type: ignore[arg-type]
            strict=True,
        ):
            if isinstance(prediction, str) or prediction.embedding is None:
                continue
            vectors.append(prediction.embedding)
            flagged.append(image_problem(item) is not None)
            rough.append(roughness(item.inputs))
            kept.append(source)
    return Embedded(np.array(vectors), np.array(flagged, bool), np.array(rough), unreadable, tuple(kept))


def embed_turned(paths: Sequence[Path], service: object) -> np.ndarray:
    """Embeddings of ``paths`` turned each of the four ways (the orientation fit's turned class)."""
    return np.concatenate([embed(paths, service, turn).vectors for turn in TURNS.values()])


def _transformed(path: Path, transform: Callable[[np.ndarray], np.ndarray], out: Path) -> Path:
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:  # DICOM (a site's own images): the display pixels of the product's reader
        image = np.round(read_image(path).pixels * 65535).astype(np.uint16)
    cv2.imwrite(str(out), transform(image))
    return out


def generated_negatives(folder: Path, n: int = 8, seed: int = 1) -> dict[str, list[Path]]:
    """PNG files of images that are not radiographs: noise, blurred noise, gradients, text, shapes,
    colour photo-like scenes (smooth colour fields with objects)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    makers: dict[str, Callable[[], np.ndarray]] = {
        "noise": lambda: (rng.random((256, 256)) * 255).astype(np.uint8),
        "blurred noise": lambda: cv2.GaussianBlur((rng.random((256, 256)) * 255).astype(np.uint8), (9, 9), 0),
        "gradient": lambda: _gradient(rng),
        "text": lambda: _text(rng),
        "shapes": lambda: _shapes(rng, colour=False),
        "colour photo-like": lambda: _shapes(rng, colour=True),
    }
    out: dict[str, list[Path]] = {}
    for name, make in makers.items():
        for i in range(n):
            path = folder / f"{name.replace(' ', '_')}_{i}.png"
            cv2.imwrite(str(path), make())
            out.setdefault(name, []).append(path)
    return out


def _gradient(rng: np.random.Generator) -> np.ndarray:
    y, x = np.mgrid[0:256, 0:256] / 255.0
    a, b = rng.uniform(-1, 1, 2)
    field = a * x + b * y + (rng.uniform() * np.hypot(x - 0.5, y - 0.5))
    field = (field - field.min()) / (np.ptp(field) or 1.0)
    return (field * 255).astype(np.uint8)


def _text(rng: np.random.Generator) -> np.ndarray:
    page = np.full((256, 256), int(rng.integers(200, 256)), np.uint8)
    for row in range(20, 256, 22):
        words = " ".join("".join(chr(int(c)) for c in rng.integers(97, 123, 5)) for _ in range(3))
        cv2.putText(page, words, (8, row), cv2.FONT_HERSHEY_SIMPLEX, 0.5, 0, 1, cv2.LINE_AA)
    return page


def _shapes(rng: np.random.Generator, colour: bool) -> np.ndarray:
    channels = 3 if colour else 1
    base = rng.integers(0, 256, (4, 4, channels)).astype(np.float32)
    scene = cv2.resize(base, (256, 256), interpolation=cv2.INTER_CUBIC).reshape(256, 256, channels)
    for _ in range(6):
        centre = tuple(int(v) for v in rng.integers(0, 256, 2))
        value = tuple(int(v) for v in rng.integers(0, 256, channels))
        cv2.circle(scene, centre, int(rng.integers(10, 60)), value, -1)
    return np.clip(scene, 0, 255).astype(np.uint8).squeeze()


def pydicom_negatives() -> list[Path]:
    """pydicom's own test images that are not radiographs (CT, MR, US, NM, RT dose, ...)."""
    out = []
    for name in get_testdata_files():
        try:
            ds = pydicom.dcmread(name, stop_before_pixels=True)
        except Exception:  # a test file pydicom cannot parse is no negative of ours
            continue
        if "Rows" in ds and ds.get("Modality", "") not in ("CR", "DX", ""):
            out.append(Path(name))
    return out


def distance_threshold(stats: GateStats, groups: Iterable[Embedded]) -> float:
    """The highest per-group 99th percentile of the distances, so each population passes about 99%."""
    return max(float(np.quantile(stats.distances(g.vectors), PASS_QUANTILE)) for g in groups)


def passed(group: Embedded, stats: GateStats, threshold: float) -> np.ndarray:
    """Per image, whether it passes the image statistics, the distance and the orientation rule, as
    :class:`inference.gate.check.Gate` decides (images the readers refused count as stopped)."""
    scored = np.zeros(0, bool)
    if len(group.vectors):
        scored = ~group.flagged & (stats.distances(group.vectors) / threshold <= 1.0)
        if stats.orientation is not None:
            scored &= stats.orientation.scores(group.vectors) <= 0.0
    return np.concatenate([scored, np.zeros(group.unreadable, bool)])


def fit_public_gate(
    package: Path, data: Path, components: int = 32, per_source: int = 600, orientation_per_source: int = 150
) -> None:
    """Fit, calibrate and measure ``package``'s safety gate on the public data folder ``data`` (see the
    module's description) and write it into the package."""
    service = load_service(package, device="cpu", precision="fp32")
    splits = _samples(data)

    def subsample(split: str) -> dict[str, list[Path]]:
        return {src: _subsample(paths, per_source, 0) for src, paths in splits[split].items()}

    fit_paths = subsample("train")
    fit_groups, val_groups, test_groups = (
        {src: embed(paths, service) for src, paths in group.items()}
        for group in (fit_paths, subsample("val"), subsample("test"))
    )
    stats = fit_stats(np.concatenate([g.vectors for g in fit_groups.values()]), components)
    threshold = distance_threshold(stats, val_groups.values())
    upright: dict[str, np.ndarray] = {}
    turned: dict[str, np.ndarray] = {}
    for src, paths in fit_paths.items():
        chosen = _subsample(paths, orientation_per_source, 2)
        # The upright ones were embedded for the distance fit already: the same vectors, in order.
        picked = set(chosen)
        fitted = fit_groups[src]
        upright[src] = fitted.vectors[[path in picked for path in fitted.paths]]
        turned[src] = embed_turned(chosen, service)
    direction = fit_direction(np.concatenate(list(upright.values())), np.concatenate(list(turned.values())))
    orientation = calibrate(direction, {k: g.vectors for k, g in val_groups.items()}, ORIENTATION_QUANTILE)
    stats = dataclasses.replace(stats, orientation=orientation)

    rough_max = max(float(g.rough.max()) for g in [*fit_groups.values(), *val_groups.values()])
    report: dict[str, object] = {
        "fit_images": {k: len(g.vectors) for k, g in fit_groups.items()},
        ORIENTATION_REPORT: {
            f"{src} {kind}": len(vectors[src])
            for src in fit_paths
            for kind, vectors in (("upright", upright), ("turned", turned))
        },
        "calibration_images": {k: len(g.vectors) for k, g in val_groups.items()},
        "calibration_pass_rate": {k: rate(passed(g, stats, threshold)) for k, g in val_groups.items()},
        "highest_roughness_fit_and_calibration": round(rough_max, 3),
        "heldout_pass_rate": {k: rate(passed(g, stats, threshold)) for k, g in test_groups.items()},
        "heldout_images": {k: len(g.vectors) for k, g in test_groups.items()},
    }
    samples = [
        p for p in (ROOT / "resources" / "samples").iterdir() if not p.name.startswith(("RG2", "README"))
    ]
    report["bundled_samples_pass"] = _count(passed(embed(samples, service), stats, threshold))
    negatives: dict[str, list[Path]] = {"pydicom non-radiograph test images": pydicom_negatives()}
    negatives["hip radiographs (pixels only)"] = sorted((data / "dicom").glob("RG2_*.dcm"))
    heldout = {src: _subsample(splits["test"][src], 40, 1) for src in ("nih", "kermany")}

    def stopped_when(paths: list[Path], transform: Callable[[np.ndarray], np.ndarray] | None = None) -> str:
        return _count(~passed(embed(paths, service, transform), stats, threshold))

    with tempfile.TemporaryDirectory() as tmp:
        negatives |= generated_negatives(Path(tmp))
        stopped = {name: stopped_when(paths) for name, paths in negatives.items()}
    report["negatives_stopped"] = stopped
    report["transformed_radiographs_stopped"] = {
        **{
            f"radiograph {name} ({src})": stopped_when(paths, turn)
            for name, turn in TURNS.items()
            for src, paths in heldout.items()
        },
        "radiograph, central quarter": stopped_when(
            heldout["nih"],
            lambda im: im[im.shape[0] // 4 : -im.shape[0] // 4, im.shape[1] // 4 : -im.shape[1] // 4],
        ),
    }
    write_gate(package, stats_bytes(stats), components, threshold, report)


def rate(flags: np.ndarray) -> float:
    return round(float(flags.mean()), 4)


def _count(flags: np.ndarray) -> str:
    return f"{int(flags.sum())}/{len(flags)}"


def write_gate(package: Path, blob: bytes, k: int, threshold: float, report: dict[str, object]) -> None:
    card = read_card(package)
    (package / GATE_FILE).write_bytes(blob)
    section = GateCard(METHOD, GATE_FILE, hashlib.sha256(blob).hexdigest(), round(threshold, 6), k, report)
    write_card(package, dataclasses.replace(card, gate=section))
    render_into(package)
