"""The findings of one study as a DICOM SR (Comprehensive 3D SR, TID 1500 measurement report) and
the burned-in annotated image as a Secondary Capture, both in the source study, each in a new series.

Per shown finding the SR holds one measurement group: the finding, its probability and the
threshold in force (numeric), whether it is positive, the source images, and the algorithm (model
name, version, weights sha256). Both objects say "not for diagnostic use".

The finding is the coded concept the model card gives its label (SNOMED CT or DICOM, from
:data:`inference.labels.CODES`), else a private code (99CXRTRIAGE, the label's name). The source
images are the images the model scored (the study's frontal DICOM images); the evidence lists them
and the Secondary Capture drawn from them.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import highdicom as hd
import numpy as np
from highdicom.sr import (
    AlgorithmIdentification,
    Comprehensive3DSR,
    DeviceObserverIdentifyingAttributes,
    Measurement,
    MeasurementReport,
    MeasurementsAndQualitativeEvaluations,
    ObservationContext,
    ObserverContext,
    QualitativeEvaluation,
    SourceImageForMeasurementGroup,
    TrackingIdentifier,
)
from pydicom import config
from pydicom.datadict import dictionary_VR
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.valuerep import validate_value

from inference.api import LabelCode, ModelCard, RankedStudy
from inference.labels import PRIVATE_SCHEME, private_code
from inference.render.annotate import DISCLAIMER

MANUFACTURER = "CXR Triage"
SCHEME = PRIVATE_SCHEME  # private coding scheme: the procedure, the threshold and findings without a code
SR_SERIES_NUMBER, SC_SERIES_NUMBER = 9001, 9002
SR_DESCRIPTION = f"CXR Triage findings - {DISCLAIMER}"
SC_DESCRIPTION = f"CXR Triage annotated - {DISCLAIMER}"
PROCEDURE = hd.sr.CodedConcept("CXR", SCHEME, "Chest radiograph")
THRESHOLD = hd.sr.CodedConcept("THRESHOLD", SCHEME, "Threshold in force")
POSITIVE = hd.sr.CodedConcept("POSITIVE", SCHEME, "Positive at threshold")
NO_UNITS = codes.UCUM.NoUnits
LATERALITY = 0x00200060
# What the generated objects take from a source image: its identity and the patient and study modules.
REFERENCE_KEYWORDS = (
    "SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID", "Modality", "PatientName",
    "PatientID", "PatientBirthDate", "PatientSex", "AccessionNumber", "StudyID", "StudyDate", "StudyTime",
    "ReferringPhysicianName", "IssuerOfPatientID",
)  # fmt: skip


@dataclass(frozen=True)
class ObjectUids:
    """The UIDs of one generated object; kept in the store so that re-sending re-uses them."""

    series_uid: str
    sop_uid: str


def build_sr(
    study: RankedStudy,
    sources: Sequence[Dataset],
    card: ModelCard,
    thresholds: Mapping[str, float],
    uids: ObjectUids,
    capture: Dataset | None = None,
) -> Dataset:
    """The SR of ``study``'s findings. Each finding's source of measurement is ``sources`` (the images
    the model scored, headers enough); the evidence lists them and ``capture``, the Secondary Capture
    of the same results (:func:`build_sc`), when given."""
    headers = [reference_header(ds) for ds in sources]
    algorithm = AlgorithmIdentification(
        name=card.name, version=card.version, parameters=[f"weights sha256 {card.weights_sha256}", DISCLAIMER]
    )
    groups = [
        _finding_group(name, finding_code(card, name), study, thresholds[name], headers, algorithm)
        for name in card.shown_labels
        if name in study.result.probabilities and name in thresholds
    ]
    device = ObserverContext(
        observer_type=codes.DCM.Device,
        observer_identifying_attributes=DeviceObserverIdentifyingAttributes(
            uid=hd.UID(), name=MANUFACTURER, model_name=f"{card.name} {card.version}"[:64]
        ),
    )
    report = MeasurementReport(
        observation_context=ObservationContext(observer_device_context=device),
        procedure_reported=PROCEDURE,
        imaging_measurements=groups,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # single-component patient names are common and valid
        sr = Comprehensive3DSR(
            evidence=[*headers, *([reference_header(capture)] if capture is not None else [])],
            content=report,
            series_instance_uid=uids.series_uid,
            series_number=SR_SERIES_NUMBER,
            sop_instance_uid=uids.sop_uid,
            instance_number=1,
            manufacturer=MANUFACTURER,
            is_complete=True,
        )
    sr.SeriesDescription = SR_DESCRIPTION
    return sr


def finding_code(card: ModelCard, name: str) -> LabelCode:
    """The coded concept of the finding ``name``: the card's, else a private one."""
    code = card.label(name).code
    return code if code is not None else private_code(name)


def _finding_group(
    name: str,
    code: LabelCode,
    study: RankedStudy,
    threshold: float,
    sources: Sequence[Dataset],
    algorithm: AlgorithmIdentification,
) -> MeasurementsAndQualitativeEvaluations:
    positive = name in study.positive_findings
    return MeasurementsAndQualitativeEvaluations(
        tracking_identifier=TrackingIdentifier(uid=hd.UID(), identifier=f"{name} finding"),
        finding_type=hd.sr.CodedConcept(code.value, code.scheme, code.meaning),
        algorithm_id=algorithm,
        measurements=[
            Measurement(codes.DCM.Probability, float(study.result.probabilities[name]), NO_UNITS),
            Measurement(THRESHOLD, float(threshold), NO_UNITS),
        ],
        qualitative_evaluations=[
            QualitativeEvaluation(POSITIVE, codes.SCT.Yes if positive else codes.SCT.No)
        ],
        source_images=[
            SourceImageForMeasurementGroup(str(ds.SOPClassUID), str(ds.SOPInstanceUID)) for ds in sources
        ],
    )


def build_sc(bgr: np.ndarray, source: Dataset, uids: ObjectUids) -> Dataset:
    """A Secondary Capture of the burned-in annotated image (BGR uint8, as the renderer draws it)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # single-component patient names are common and valid
        sc = hd.sc.SCImage.from_ref_dataset(
            ref_dataset=reference_header(source),
            pixel_array=np.ascontiguousarray(bgr[..., ::-1]),
            photometric_interpretation="RGB",
            bits_allocated=8,
            coordinate_system="PATIENT",
            series_instance_uid=uids.series_uid,
            series_number=SC_SERIES_NUMBER,
            sop_instance_uid=uids.sop_uid,
            instance_number=1,
            manufacturer=MANUFACTURER,
            patient_orientation=("L", "F"),
        )
    sc.BurnedInAnnotation = "YES"
    sc.add_new(LATERALITY, "CS", None)  # type 2C: a chest is no paired body part; present, empty
    sc.SeriesDescription = SC_DESCRIPTION
    sc.ImageComments = DISCLAIMER
    return sc


def reference_header(ds: Dataset) -> Dataset:
    """The identity, patient and study attributes of ``ds``, each present; a value the standard does
    not allow (a hash in a date, a 56-character accession number) is left empty rather than copied
    into objects a PACS must accept."""
    header = Dataset()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom warns about the very values checked here
        for keyword in REFERENCE_KEYWORDS:
            vr = dictionary_VR(keyword)
            value = ds[keyword].value if keyword in ds else None
            header.add_new(keyword, vr, value if _valid(vr, value) else None)
    return header


def _valid(vr: str, value: object) -> bool:
    if value is None:
        return True
    try:
        validate_value(vr, value, config.RAISE)
    except (ValueError, TypeError):
        return False
    return True
