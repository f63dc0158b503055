"""The PACS link: studies in over DICOMweb (QIDO-RS/WADO-RS) and DIMSE (C-STORE SCP), findings back
as a DICOM SR and a Secondary Capture (STOW-RS or C-STORE). Qt-free; torch only through the engine."""

from inference.pacs.destinations import DicomNode, PacsError, WebNode, parse_destination

__all__ = ["DicomNode", "PacsError", "WebNode", "parse_destination"]
