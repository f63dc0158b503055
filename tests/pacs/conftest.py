"""A real Orthanc PACS (Debian ``orthanc`` + ``orthanc-dicomweb``) for the PACS tests: its own
temporary configuration on loopback with free ports, DICOMweb enabled, and a modality entry for the
test listener; started once per session and stopped at the end. Without the packages the tests skip
with how to install them, except under ``CI=true``, where they must run and so fail instead."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from orthanc_server import (
    DICOMWEB_PLUGIN,
    INSTALL,
    LISTENER_AET,
    LISTENER_NAME,
    PACS_AET,
    SAMPLES,
    Orthanc,
    free_port,
    missing_tools,
    running_orthanc,
)


@pytest.fixture(scope="session")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Orthanc]:
    missing = missing_tools()
    if missing:
        message = f"the PACS tests need {', '.join(missing)}: {INSTALL}"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (CI must run them; .ci/run installs them)")
        pytest.skip(message)
    folder = tmp_path_factory.mktemp("orthanc")
    pacs = Orthanc(f"http://127.0.0.1:{free_port()}", free_port(), free_port())
    config = {
        "Name": "cxr-triage-tests",
        "HttpPort": int(pacs.http.rsplit(":", 1)[1]),
        "DicomPort": pacs.dicom_port,
        "DicomAet": PACS_AET,
        "DicomCheckCalledAet": True,  # a wrong AE title is refused: the refused-association test
        "RemoteAccessAllowed": False,  # HTTP from loopback only
        "AuthenticationEnabled": False,
        "UnknownSopClassAccepted": True,
        "Plugins": [DICOMWEB_PLUGIN],
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
        "DicomModalities": {LISTENER_NAME: [LISTENER_AET, "127.0.0.1", pacs.listener_port]},
        "DicomScuTimeout": 30,
        "SaveJobs": False,
        "HttpThreadsCount": 4,
        "ConcurrentJobs": 1,
    }
    with running_orthanc(folder, config, lambda: pacs.rest("GET", "/system")):
        yield pacs


@pytest.fixture(scope="session")
def samples_in_pacs(orthanc: Orthanc) -> dict[str, str]:
    """The bundled sample DICOMs uploaded to Orthanc: file name -> Study Instance UID."""
    import pydicom

    studies = {}
    for path in sorted(SAMPLES.glob("*.dcm")):
        request = urllib.request.Request(f"{orthanc.http}/instances", data=path.read_bytes(), method="POST")
        with urllib.request.urlopen(request, timeout=60) as answer:
            assert json.loads(answer.read())["Status"] in ("Success", "AlreadyStored")
        studies[path.name] = str(pydicom.dcmread(path, stop_before_pixels=True).StudyInstanceUID)
    return studies
