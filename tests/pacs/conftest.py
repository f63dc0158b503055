"""A real Orthanc PACS (Debian ``orthanc`` + ``orthanc-dicomweb``) for the PACS tests: its own
temporary configuration on loopback with free ports, DICOMweb enabled, and a modality entry for the
test listener; started once per session and stopped at the end. Without the packages the tests skip
with how to install them, except under ``CI=true``, where they must run and so fail instead."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from orthanc_server import (
    DICOMWEB_PLUGIN,
    INSTALL,
    LISTENER_AET,
    LISTENER_NAME,
    ORTHANC,
    PACS_AET,
    SAMPLES,
    START_WAIT_S,
    Orthanc,
    free_port,
    missing_tools,
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
        "StorageDirectory": str(folder / "db"),
        "IndexDirectory": str(folder / "db"),
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
    (folder / "orthanc.json").write_text(json.dumps(config))
    log = (folder / "orthanc.log").open("wb")
    process = subprocess.Popen([ORTHANC, str(folder / "orthanc.json")], stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_until_up(pacs, process, folder / "orthanc.log")
        yield pacs
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=20)
        log.close()


def _wait_until_up(pacs: Orthanc, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_WAIT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"Orthanc exited ({process.returncode}): {log.read_text(errors='replace')[-2000:]}")
        try:
            pacs.rest("GET", "/system")
            return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)
    pytest.fail(f"Orthanc did not answer within {START_WAIT_S:g} s")


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
