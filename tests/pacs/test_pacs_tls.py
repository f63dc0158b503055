"""DICOMweb over HTTPS with authentication, against a real Orthanc: certificates this test makes with
``openssl`` (a site CA, a server certificate for 127.0.0.1, a client certificate), one Orthanc with
HTTP basic auth over HTTPS and one that also demands a client certificate. pull and send succeed with
``--tls-ca`` and the credentials of the environment; without the CA, with a wrong password, without
the client certificate or with a password in the URL they fail with a plain message; ``--insecure``
works, warns and is audited; the store's file never holds the password."""

from __future__ import annotations

import base64
import csv
import json
import os
import shutil
import ssl
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydicom
import pytest
from orthanc_server import DICOMWEB_PLUGIN, INSTALL, SAMPLES, free_port, missing_tools, running_orthanc
from site_certificates import SiteCertificates, make_site_certificates

from inference.cli.main import main
from inference.pacs.access import ENV_PASSWORD, ENV_TOKEN, ENV_USER
from inference.pacs.destinations import WebNode
from inference.store import Store
from viewer.pacs_client import StudyQuery, query_studies

pytestmark = pytest.mark.slow
EXIT_PACS, EXIT_MISUSE = 3, 2
USER, PASSWORD = "reader", "Tls-Test-Pa55word-91"  # noqa: S105 (a test value)
CHEST = "DX_chest_NIH_google_1024_8bit.dcm"


@dataclass(frozen=True)
class SecureOrthanc:
    https: str  # https://127.0.0.1:PORT
    certs: SiteCertificates

    @property
    def dicomweb(self) -> str:
        return f"{self.https}/dicom-web"

    def rest(self, method: str, path: str, body: bytes | None = None) -> Any:
        context = ssl.create_default_context(cafile=str(self.certs.ca))
        context.load_cert_chain(self.certs.client, self.certs.client_key)
        request = urllib.request.Request(f"{self.https}{path}", data=body, method=method)
        request.add_header(
            "Authorization", "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        )
        with urllib.request.urlopen(request, timeout=60, context=context) as answer:
            text = answer.read()
        return json.loads(text) if text else None


# Debian 12's libcivetweb1 (1.15+dfsg-4), Orthanc's web server, looks up SSL_get_peer_certificate in
# the libssl it loads at run time; OpenSSL 3 has it as a macro only, so Orthanc dies (SIGSEGV, a null
# function) on its first HTTPS connection. This shim, found first as "libssl.so" through
# LD_LIBRARY_PATH, adds that one function over the real libssl.so.3; Orthanc's TLS is otherwise its own.
_CIVETWEB_SHIM = """
typedef struct ssl_st SSL; typedef struct x509_st X509;
extern X509 *SSL_get1_peer_certificate(const SSL *ssl);
X509 *SSL_get_peer_certificate(const SSL *ssl) { return SSL_get1_peer_certificate(ssl); }
"""


def _need_tools() -> None:
    tools = [tool for tool in ("openssl", "gcc") if not shutil.which(tool)]
    missing = missing_tools() + tools
    if missing:
        message = f"the TLS PACS tests need {', '.join(missing)}: {INSTALL} openssl gcc"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (CI must run them)")
        pytest.skip(message)


def _build_shim(folder: Path) -> None:
    (folder / "shim.c").write_text(_CIVETWEB_SHIM)
    subprocess.run(
        ["gcc", "-shared", "-fPIC", "-o", "libssl.so", "shim.c", "-l:libssl.so.3"],
        cwd=folder, check=True, capture_output=True, timeout=60,
    )  # fmt: skip


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> SiteCertificates:
    _need_tools()
    certs = make_site_certificates(tmp_path_factory.mktemp("tls") / "certs")
    _build_shim(certs.ca.parent)  # beside the certificates: LD_LIBRARY_PATH names that folder
    return certs


def _start(folder: Path, certs: SiteCertificates, *, client_certificates: bool) -> Iterator[SecureOrthanc]:
    """An Orthanc on 127.0.0.1 with basic auth over HTTPS (and client certificates when asked), the
    chest sample in it; stopped at the end."""
    port = free_port()
    config = {
        "Name": "cxr-triage-tls-tests",
        "HttpPort": port,
        "DicomPort": free_port(),
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": True,
        "RegisteredUsers": {USER: PASSWORD},
        "SslEnabled": True,
        "SslCertificate": str(certs.server_with_key),
        "SslVerifyPeers": client_certificates,
        "SslTrustedClientCertificates": str(certs.ca),
        "Plugins": [DICOMWEB_PLUGIN],
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
        "SaveJobs": False,
        "HttpThreadsCount": 4,
    }
    pacs = SecureOrthanc(f"https://127.0.0.1:{port}", certs)
    env = dict(os.environ, LD_LIBRARY_PATH=str(certs.ca.parent))  # the libssl shim (above)
    with running_orthanc(folder, config, lambda: pacs.rest("GET", "/system"), env=env):
        answer = pacs.rest("POST", "/instances", (SAMPLES / CHEST).read_bytes())
        assert answer["Status"] in ("Success", "AlreadyStored")
        yield pacs


@pytest.fixture(scope="module")
def secure(certs: SiteCertificates, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureOrthanc]:
    yield from _start(tmp_path_factory.mktemp("orthanc-https"), certs, client_certificates=False)


@pytest.fixture(scope="module")
def mutual(certs: SiteCertificates, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureOrthanc]:
    yield from _start(tmp_path_factory.mktemp("orthanc-mtls"), certs, client_certificates=True)


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (ENV_TOKEN, "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(ENV_USER, USER)
    monkeypatch.setenv(ENV_PASSWORD, PASSWORD)


def pull(url: str, folder: Path, *options: str) -> int:
    db, out = folder / "s.sqlite", folder / "out"
    return main(
        ["pull", url, "--db", str(db), "--out", str(out), "--device", "cpu", "--timeout", "20", *options]
    )


def _events(folder: Path, action: str) -> list[Mapping[str, Any]]:
    with Store(folder / "s.sqlite") as store:
        return [e.detail for e in store.audit() if e.action == action]


def _store_bytes(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.glob("s.sqlite*")))


def _scored(folder: Path) -> set[str]:
    with (folder / "out" / "worklist.csv").open(encoding="utf-8") as fh:
        return {row["study_uid"] for row in csv.DictReader(fh) if row["status"] == "scored"}


def test_pull_and_send_over_https_with_the_site_ca_and_environment_credentials(
    secure: SecureOrthanc, credentials: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    study = str(pydicom.dcmread(SAMPLES / CHEST, stop_before_pixels=True).StudyInstanceUID)
    assert pull(secure.dicomweb, tmp_path, "--tls-ca", str(secure.certs.ca)) == 0
    assert _scored(tmp_path) == {study}
    assert "warning" not in capsys.readouterr().err
    [event] = _events(tmp_path, "pacs-retrieve")
    assert event == {
        "node": secure.dicomweb, "tls": True, "certificate_verified": True, "insecure": False,
        "client_certificate": False, "authentication": "basic", "command": "pull", "found": 1,
        "studies": 1, "failure": "",
    }  # fmt: skip
    send = ["send", secure.dicomweb, "--tls-ca", str(secure.certs.ca), "--db", str(tmp_path / "s.sqlite")]
    assert main([*send, "--device", "cpu"]) == 0
    [sent] = _events(tmp_path, "pacs-send")
    assert (
        sent["studies"] == 1
        and sent["tls"]
        and sent["certificate_verified"]
        and sent["node"] == secure.dicomweb
    )
    held = secure.rest("GET", f"/studies/{secure.rest('POST', '/tools/lookup', study.encode())[0]['ID']}")
    assert len(held["Series"]) == 3  # the image's, and our SR's and Secondary Capture's
    assert PASSWORD.encode() not in _store_bytes(tmp_path)


def test_without_the_site_ca_the_certificate_is_not_trusted(
    secure: SecureOrthanc, credentials: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert pull(secure.dicomweb, tmp_path) == EXIT_PACS
    err = capsys.readouterr().err
    assert f"the certificate of the PACS at {secure.dicomweb} could not be verified" in err
    assert "certificate problem" in err and "--tls-ca FILE" in err and "Traceback" not in err
    assert pull(secure.dicomweb, tmp_path, "--tls-ca", str(secure.certs.other_ca)) == EXIT_PACS
    assert "could not be verified" in capsys.readouterr().err
    [*_, event] = _events(tmp_path, "pacs-retrieve")
    assert event["studies"] == 0 and "could not be verified" in event["failure"]


def test_the_given_ca_wins_over_requests_ca_bundle(
    secure: SecureOrthanc, credentials: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(secure.certs.other_ca))
    assert pull(secure.dicomweb, tmp_path, "--tls-ca", str(secure.certs.ca)) == 0


def test_a_wrong_or_missing_password_is_the_401_message(
    secure: SecureOrthanc, credentials: None, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv(ENV_PASSWORD, "not-the-password")
    assert pull(secure.dicomweb, tmp_path, "--tls-ca", str(secure.certs.ca)) == EXIT_PACS
    err = capsys.readouterr().err
    assert "answered 401 Unauthorized" in err and ENV_USER in err and ENV_PASSWORD in err
    assert "not-the-password" not in err
    monkeypatch.delenv(ENV_USER)
    monkeypatch.delenv(ENV_PASSWORD)
    assert pull(secure.dicomweb, tmp_path, "--tls-ca", str(secure.certs.ca)) == EXIT_PACS
    assert "answered 401 Unauthorized" in capsys.readouterr().err
    assert b"not-the-password" not in _store_bytes(tmp_path)


def test_a_password_in_the_url_is_refused_before_any_request(
    secure: SecureOrthanc, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = secure.dicomweb.replace("https://", f"https://{USER}:{PASSWORD}@")
    assert pull(url, tmp_path, "--tls-ca", str(secure.certs.ca)) == EXIT_MISUSE
    err = capsys.readouterr().err
    assert "password in the URL" in err and ENV_PASSWORD in err and PASSWORD not in err
    assert not (tmp_path / "pacs-cache").exists() and not (tmp_path / "s.sqlite").exists()


def test_insecure_works_warns_and_is_audited(
    secure: SecureOrthanc, credentials: None, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    recwarn: pytest.WarningsRecorder,
) -> None:  # fmt: skip
    for _ in range(2):  # the warning on every run
        assert pull(secure.dicomweb, tmp_path, "--insecure") == 0
        err = capsys.readouterr().err
        assert "warning: --insecure: the PACS's certificate is not verified" in err
    assert not [w for w in recwarn if "Unverified HTTPS" in str(w.message)]  # ours, not urllib3's per request
    events = _events(tmp_path, "pacs-retrieve")
    assert len(events) == 2
    assert all(e["insecure"] and not e["certificate_verified"] and e["tls"] for e in events)
    assert PASSWORD.encode() not in _store_bytes(tmp_path)


def test_the_viewer_reaches_the_node_with_the_environment(
    secure: SecureOrthanc, credentials: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(secure.certs.ca))  # the viewer's CA: the bundle's
    *_, found = query_studies(WebNode(secure.dicomweb), StudyQuery(), lambda: False)
    assert isinstance(found, list) and len(found) == 1


def test_a_pacs_that_wants_a_client_certificate_gets_ours(
    mutual: SecureOrthanc, credentials: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ca = ["--tls-ca", str(mutual.certs.ca)]
    assert pull(mutual.dicomweb, tmp_path, *ca) == EXIT_PACS
    err = capsys.readouterr().err
    assert "a certificate problem" in err and "--tls-cert FILE and --tls-key FILE" in err, err
    mine = ["--tls-cert", str(mutual.certs.client), "--tls-key", str(mutual.certs.client_key)]
    assert pull(mutual.dicomweb, tmp_path, *ca, *mine) == 0
    [*_, event] = _events(tmp_path, "pacs-retrieve")
    assert event["client_certificate"] and event["studies"] == 1
