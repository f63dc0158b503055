"""The typed contract between readers, models, the triage engine, the CLI and the viewer.

Everything that crosses a module boundary is one of these frozen dataclasses or a numpy array;
tensors never leave :mod:`inference`. This module imports neither torch nor Qt.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple, Protocol

import numpy as np


class Status(enum.StrEnum):
    """Where one worklist row stands; the strings are written to CSV/JSON as they are."""

    SCORED = "scored"
    ERROR = "error"  # unreadable, corrupt, unsupported: `reason` says why
    NOT_SCORED = "not_scored"  # readable but outside what the model was trained on (lateral, not chest)


class Preprocessing(enum.StrEnum):
    """The two input conventions of published chest-X-ray models (:mod:`inference.runtime.preprocess`); a
    model
    card names exactly one."""

    CHEXNET = "chexnet"  # 8-bit gray -> RGB, resize 256, crop 224, ImageNet mean/std
    XRV = "xrv"  # 1 channel in [-1024, 1024], centre crop to square, resize 224


class Task(enum.StrEnum):
    MULTILABEL = "multilabel"  # independent findings: sigmoid per label
    MULTICLASS = "multiclass"  # mutually exclusive classes: softmax


@dataclass(frozen=True)
class ImageMeta:
    """Header facts of one image, read without pixels. Empty string where the header is silent."""

    path: Path
    study_uid: str
    patient_id: str = ""
    patient_name: str = ""
    accession: str = ""
    study_date: str = ""  # DICOM DA, YYYYMMDD
    study_time: str = ""
    modality: str = ""
    view_position: str = ""  # PA, AP, LL, LATERAL ...
    body_part: str = ""
    photometric: str = ""
    rows: int = 0
    columns: int = 0
    sop_uid: str = ""
    window_center: float | None = None
    window_width: float | None = None
    fingerprint: str = ""  # of the pixels and the header that changes the picture (inference.io.fingerprint)
    purged: str = ""  # when ``cxr-triage purge`` removed the file (ISO 8601 UTC); "" while it is kept


@dataclass(frozen=True)
class ScanEntry:
    """One file found by a folder scan: indexed, but pixels not yet read.

    ``status`` is ``SCORED`` for "eligible to score"; ``NOT_SCORED``/``ERROR`` carry ``reason``.
    """

    meta: ImageMeta
    status: Status = Status.SCORED
    reason: str = ""


@dataclass(frozen=True)
class HeaderWindow:
    """One window of the DICOM header (Window Center/Width, in modality values) and its explanation."""

    center: float
    width: float
    explanation: str = ""


@dataclass(frozen=True)
class DisplayScale:
    """What the [0, 1] pixels of an :class:`XRayImage` stand for in the image's own units.

    Pixel 0 stands for ``black`` and 1 for ``white``, linearly (``black`` is the larger number for an
    inverted image): for DICOM the modality values (after Rescale Slope/Intercept) at the edges of the
    window that was applied, taken as Center ∓ Width/2 so the header's window reads back exactly; for
    PNG/JPEG the stored range (0-255 or 0-65535). Display only: the pixels the model sees never depend
    on it.
    """

    black: float
    white: float
    windows: tuple[HeaderWindow, ...] = ()

    def to_units(self, pixel: float) -> float:
        return self.black + pixel * (self.white - self.black)

    def to_pixel(self, value: float) -> float:
        return (value - self.black) / (self.white - self.black)

    @property
    def span(self) -> float:
        """Units per pixel step of 1 (always positive)."""
        return abs(self.white - self.black)


@dataclass(frozen=True)
class XRayImage:
    """Decoded display-ready pixels of one radiograph.

    ``pixels`` is 2-D float32 in [0, 1], 0 = black, after Modality LUT, VOI LUT and photometric
    inversion (MONOCHROME1 / Presentation LUT INVERSE). Both preprocessing conventions start here.
    ``display`` says what those pixels stand for in the image's own units (None: unknown).
    """

    pixels: np.ndarray
    meta: ImageMeta
    warnings: tuple[str, ...] = ()
    display: DisplayScale | None = None

    def __post_init__(self) -> None:
        if self.pixels.ndim != 2 or self.pixels.dtype != np.float32:
            raise ValueError(
                f"XRayImage needs 2-D float32 pixels, got {self.pixels.dtype} {self.pixels.shape}"
            )


class CropBox(NamedTuple):
    """The part of an image a network input covers, as fractions of the image's height and width (so
    it holds for the image at any resolution it was decoded at)."""

    top: float
    left: float
    height: float
    width: float


@dataclass(frozen=True)
class PreparedImage:
    """An image reduced to network input: what a scoring batch holds instead of full-size pixels.

    ``inputs`` is float32, (N, C, S, S): one crop, or ten for ten-crop TTA. ``box`` is the part of the
    image the (centre) crop covers.
    """

    meta: ImageMeta
    inputs: np.ndarray
    warnings: tuple[str, ...] = ()
    box: CropBox = CropBox(0.0, 0.0, 1.0, 1.0)


@dataclass(frozen=True)
class ValidationCurve:
    """Sensitivity and specificity on the card's validation split at ascending thresholds."""

    thresholds: tuple[float, ...]
    sensitivity: tuple[float, ...]
    specificity: tuple[float, ...]

    def at(self, threshold: float) -> tuple[float, float]:
        """Expected (sensitivity, specificity) when calling positive at ``score >= threshold``."""
        i = int(np.searchsorted(np.asarray(self.thresholds), threshold, side="left"))
        i = min(i, len(self.thresholds) - 1)
        return self.sensitivity[i], self.specificity[i]


@dataclass(frozen=True)
class LabelCode:
    """The coded concept that names a label's finding in the DICOM SR, and where that mapping comes
    from (:data:`inference.labels.CODES` holds the project's table)."""

    value: str  # e.g. "233604007"
    scheme: str  # coding scheme designator: "SCT" (SNOMED CT), "DCM", "RADLEX", or a private "99..."
    meaning: str  # e.g. "Pneumonia"
    source: str  # e.g. "SNOMED CT International (not in DICOM PS3.16)"


@dataclass(frozen=True)
class LabelCard:
    """One output of a model: whether it is trained, its operating points and validation figures."""

    name: str
    trained: bool = True
    operating_points: Mapping[str, float] = field(default_factory=dict)  # e.g. {"youden": 0.41}
    auroc: float | None = None
    n_positive: int = 0
    n_negative: int = 0
    curve: ValidationCurve | None = None
    code: LabelCode | None = None  # None: the SR names the finding with a private code


OPERATING_POINTS = ("high_sensitivity", "youden", "high_specificity")


@dataclass(frozen=True)
class GateCard:
    """The card's ``gate`` section: the safety gate's statistics file and how it was calibrated.

    ``threshold`` is the largest distance to the training embeddings that passes; the score a
    result keeps is distance / threshold, so 1 is the limit for every model."""

    method: str  # "ppca-mahalanobis"
    file: str  # in the package, e.g. "gate.npz"
    sha256: str
    threshold: float
    components: int
    calibration: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class OnnxCard:
    """The card's ``onnx`` section: the package's network exported to ONNX, which the CPU runtime runs.

    ``parity`` is the largest difference of any output probability between ONNX Runtime and torch fp32
    on the parity probe (:mod:`inference.runtime.backends.probe`) when the export was made."""

    file: str  # in the package, e.g. "model.onnx"
    sha256: str
    outputs: str  # the export's outputs (inference.runtime.backends.onnx.EXPORT_FORMAT)
    opset: int
    parity: float


@dataclass(frozen=True)
class ModelCard:
    """What ``card.json`` of a model package says. See :mod:`inference.models.package`."""

    name: str
    version: str
    architecture: str  # "densenet121" | "efficientnet_lite0" (inference.models.architectures)
    task: Task
    preprocessing: Preprocessing
    labels: tuple[LabelCard, ...]  # one per network output, in output order
    weights_sha256: str
    input_size: int = 224
    default_operating_point: str = "youden"
    description: str = ""
    intended_use: str = "Not for diagnostic use."
    training_data: tuple[str, ...] = ()
    metrics: Mapping[str, object] = field(default_factory=dict)
    recipe: str = ""
    gate: GateCard | None = None  # None: the gate's image statistics alone (no feature statistics)
    onnx: OnnxCard | None = None  # None: exported on first use where torch is installed

    @property
    def shown_labels(self) -> tuple[str, ...]:
        """Labels the reader sees: trained outputs only (untrained heads sit near 0.5)."""
        return tuple(lab.name for lab in self.labels if lab.trained)

    def label(self, name: str) -> LabelCard:
        for lab in self.labels:
            if lab.name == name:
                return lab
        raise KeyError(name)

    def thresholds(self, operating_point: str | None = None) -> dict[str, float]:
        """Per shown label, the threshold of ``operating_point`` (the card's default if None).

        Raises ``KeyError`` when a shown label has no such point: a made-up threshold would
        silently change what counts as positive.
        """
        point = operating_point or self.default_operating_point
        lacking = [lab.name for lab in self.labels if lab.trained and point not in lab.operating_points]
        if lacking:
            raise KeyError(f"operating point {point!r} is missing for {', '.join(lacking)}")
        return {lab.name: float(lab.operating_points[point]) for lab in self.labels if lab.trained}


@dataclass(frozen=True)
class Prediction:
    """Scores of one image for the shown labels of one model (probabilities in [0, 1])."""

    path: Path
    probabilities: Mapping[str, float]
    weights_sha256: str
    # The pooled norm5 features of the same forward pass, L2-normalised (float32, 1-D): what
    # similar-case search compares. None from services that do not compute one.
    embedding: np.ndarray | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Heatmap:
    """Grad-CAM of one finding, resized to the image: float32 in [0, 1], same shape as ``pixels``."""

    label: str
    values: np.ndarray
    probability: float
    method: str = "Grad-CAM (Captum LayerGradCam, features.norm5)"


@dataclass(frozen=True)
class StudyResult:
    """One worklist row before ranking: a study's state and, when scored, its findings."""

    study_uid: str
    meta: ImageMeta  # of the image whose scores represent the study
    status: Status
    reason: str = ""
    probabilities: Mapping[str, float] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()  # from the readers: colour converted, first frame only, ...
    arrived: str = ""  # ISO 8601 UTC time the study first reached the store; "" when unknown
    images: tuple[Path, ...] = ()  # the study's image files, in scan order (reasons name them)
    gate_score: float | None = None  # the safety gate's highest score over its images (>1: stopped)
    gate_overridden: bool = False  # the reader scored it past the gate (viewer: Score Anyway)


@dataclass(frozen=True)
class RankedStudy:
    """A ``StudyResult`` placed in the worklist under a given set of thresholds."""

    rank: int
    result: StudyResult
    positive_findings: tuple[str, ...]  # at or above threshold, most over-threshold first
    risk_score: float
    top_finding: str
    top_probability: float
    overdue: bool = False  # a negative lifted above the rest for waiting past the maximum wait


@dataclass(frozen=True)
class Verdict:
    """The safety gate's answer for one image: ``reason`` is empty when it passes."""

    score: float | None  # distance / threshold; None without feature statistics or embedding
    reason: str = ""

    @property
    def passed(self) -> bool:
        return not self.reason


class SafetyGate(Protocol):
    """Whether an image's scores can be trusted (:mod:`inference.gate`)."""

    def check(self, image: PreparedImage, embedding: np.ndarray | None) -> Verdict: ...


class TriageService(Protocol):
    """What the viewer and CLI need from a loaded model; arrays and dataclasses only."""

    @property
    def card(self) -> ModelCard: ...

    @property
    def device(self) -> str: ...

    @property
    def precision(self) -> str: ...

    @property
    def backend(self) -> str:
        """The runtime that scores, in a word (onnx, torch), shown beside the precision."""
        ...

    @property
    def gate(self) -> SafetyGate | None:
        """The package's safety gate; None: every image is scored."""
        ...

    def prepare(self, image: XRayImage) -> PreparedImage:
        """Network input of ``image``; pure, so it may run on any thread (e.g. while a batch scores)."""
        ...

    def predict(self, images: Sequence[XRayImage | PreparedImage]) -> list[Prediction]: ...

    def explain(
        self, image: XRayImage | PreparedImage, label: str, shape: tuple[int, int] | None = None
    ) -> Heatmap:
        """Grad-CAM of ``label`` for the network input of ``image``, over an image of ``shape``."""
        ...
