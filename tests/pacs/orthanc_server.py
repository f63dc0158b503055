"""The test PACS's address book: constants, the :class:`Orthanc` handle and free loopback ports.

A module of its own (not conftest.py) so that test modules can import it by a name no other test
folder uses."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

INSTALL = "apt-get install orthanc orthanc-dicomweb dicom3tools"
ORTHANC = "/usr/sbin/Orthanc"
DICOMWEB_PLUGIN = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so"
PACS_AET = "ORTHANC"
LISTENER_AET = "CXRTRIAGE"
LISTENER_NAME = "cxr"  # the listener's name in Orthanc's DicomModalities
START_WAIT_S = 60.0
SAMPLES = Path(__file__).parents[2] / "resources" / "samples"


@dataclass(frozen=True)
class Orthanc:
    http: str  # http://127.0.0.1:PORT
    dicom_port: int
    listener_port: int  # where Orthanc sends when asked to store to LISTENER_NAME

    @property
    def dicomweb(self) -> str:
        return f"{self.http}/dicom-web"

    def rest(self, method: str, path: str, body: Any = None) -> Any:
        """Orthanc's REST API: ``body`` is sent as JSON, or as it is when bytes."""
        data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.http}{path}", data=data, method=method)
        with urllib.request.urlopen(request, timeout=60) as answer:
            text = answer.read()
        return json.loads(text) if text else None

    def lookup(self, uid: str) -> str:
        """Orthanc's own id of the study, series or instance with this DICOM UID."""
        found = self.rest("POST", "/tools/lookup", uid.encode())
        assert found, f"{uid} is not in Orthanc"
        return str(found[0]["ID"])


def missing_tools() -> list[str]:
    wanted = {
        "Orthanc": ORTHANC,
        "the DICOMweb plugin": DICOMWEB_PLUGIN,
        "dciodvfy": shutil.which("dciodvfy"),
    }
    return [name for name, path in wanted.items() if not path or not Path(path).exists()]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_orthanc(
    folder: Path, config: dict[str, Any], answers: Callable[[], object], env: dict[str, str] | None = None
) -> Iterator[None]:
    """Orthanc with ``config`` (its storage in ``folder``, its log in ``folder``/orthanc.log) until the
    block ends: started, waited for until ``answers()`` stops raising OSError (at most
    :data:`START_WAIT_S`), then stopped (killed if it does not stop)."""
    config = {"StorageDirectory": str(folder / "db"), "IndexDirectory": str(folder / "db"), **config}
    (folder / "orthanc.json").write_text(json.dumps(config))
    log = folder / "orthanc.log"
    with log.open("wb") as out:
        process = subprocess.Popen([ORTHANC, str(folder / "orthanc.json")], stdout=out, stderr=out, env=env)
    try:
        deadline = time.monotonic() + START_WAIT_S
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(errors="replace")[-2000:]
                pytest.fail(
                    f"Orthanc did not answer within {START_WAIT_S:g} s (exit {process.poll()}): {tail}"
                )
            try:
                answers()
                break
            except OSError:  # refused, reset, TLS not up yet (URLError and SSLError are OSErrors)
                time.sleep(0.2)
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=20)
