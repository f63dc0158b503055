"""DICOM TLS (PS3.15 Annex B) on the DIMSE side, against the real parts: certificates this test makes
with ``openssl`` (a site CA; a server certificate for 127.0.0.1, subjectAltName IP:127.0.0.1; a client
certificate it signed; a client certificate from another CA), dcmtk's ``echoscu`` and ``storescu`` as
the outside senders, and Orthanc's own DICOM TLS as the outside receiver.

``listen --tls-cert --tls-key --tls-ca`` accepts, stores and audits (``tls`` yes, the client's CN) a
sender with a certificate the CA signed, and refuses, says and audits a plain association, a
certificate from another CA, none at all, a peer offering only TLS 1.1 and (after ``--timeout``, while
others are served) a silent one. ``send dicom://… --tls-…`` and C-ECHO store into and reach Orthanc
over DICOM TLS (and our own TLS listener), and fail with one plain line without a client certificate,
without the CA that signed the PACS's, or without TLS; Orthanc stores to our listener over DICOM TLS.

Without openssl, dcmtk or Orthanc these skip with how to install them, except under ``CI=true``, where
they must run."""

from __future__ import annotations

import json
import os
import shutil
import socket
import ssl
import subprocess
import time
import urllib.request
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydicom
import pytest
from orthanc_server import ORTHANC, SAMPLES, free_port, running_orthanc
from pydicom.uid import generate_uid
from site_certificates import SiteCertificates, make_site_certificates
from test_listen_access import FIXTURES, OURS, TOOL_TIMEOUT, WAIT_S, Listener

from inference.cli.main import main
from inference.pacs.cache import instance_path
from inference.pacs.destinations import DicomNode, PacsError
from inference.pacs.dicom_tls import PLAIN, DicomTls, TlsDicomNode
from inference.pacs.transfer import echo
from inference.store import Store

EXIT_MISUSE, EXIT_PACS = 2, 3
CLIENT_CN = "modality-1"
CHEST = "DX_chest_NIH_google_1024_8bit.dcm"
ORTHANC_AET = "TLSPACS"
HANDSHAKE_S = 8  # the TLS listener's --timeout: what a handshake may take


def _need(*tools: str) -> None:
    missing = [tool for tool in tools if shutil.which(tool) is None and not Path(tool).exists()]
    if missing:
        message = f"the DICOM TLS tests need {', '.join(missing)}: apt-get install openssl dcmtk orthanc"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (CI must run them; .ci/run installs them)")
        pytest.skip(message)


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> SiteCertificates:
    _need("openssl")
    return make_site_certificates(tmp_path_factory.mktemp("dicom-tls-certs"), client_cn=CLIENT_CN)


# -- options and files, before any network -----------------------------------------------------------
def test_bad_tls_options_stop_listen_and_send_with_one_line(
    certs: SiteCertificates, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "s.sqlite")
    listen = ["listen", "--port", str(free_port()), "--bind", "127.0.0.1", "--db", db, "--device", "cpu"]
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    cases = [
        ([*listen, "--tls-ca", str(certs.ca)], "--tls-key and --tls-ca need --tls-cert"),
        ([*listen, "--tls-cert", str(tmp_path / "absent.pem")], f"cannot read --tls-cert {tmp_path}"),
        ([*listen, "--tls-cert", str(garbage)], f"cannot use --tls-cert {garbage} with its key {garbage}"),
        ([*listen, "--tls-cert", str(certs.server), "--tls-key", str(certs.client_key)],
         "cannot use --tls-cert"),  # not its key
        (["send", f"dicom://PACS@127.0.0.1:{free_port()}", "--db", db, "--tls-key", str(certs.client_key)],
         "--tls-key needs --tls-cert"),
        (["send", f"dicom://PACS@127.0.0.1:{free_port()}", "--db", db, "--tls-ca", str(garbage)],
         f"cannot use --tls-ca {garbage}"),
    ]  # fmt: skip
    for command, said in cases:
        assert main(command) == EXIT_MISUSE, command
        err = capsys.readouterr().err
        assert said in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err


# -- dcmtk against the TLS listener ------------------------------------------------------------------
class TlsListener(Listener):
    """``listen`` with DICOM TLS: our server certificate, client certificates signed by the site CA."""

    def __init__(self, folder: Path, certs: SiteCertificates) -> None:
        super().__init__(folder)
        self.certs = certs
        self.command += ["--tls-cert", str(certs.server), "--tls-key", str(certs.server_key),
                         "--tls-ca", str(certs.ca), "--timeout", str(HANDSHAKE_S)]  # fmt: skip

    def dcmtk(
        self, tool: str, tls: list[str], *args: str, called: str = OURS
    ) -> subprocess.CompletedProcess[str]:
        command = [tool, *TOOL_TIMEOUT, *tls, "-aet", "MODALITY", "-aec", called, "127.0.0.1", str(self.port)]
        return subprocess.run([*command, *args], capture_output=True, text=True, timeout=WAIT_S, check=False)

    def signed_by(self, name: str) -> list[str]:
        """dcmtk's options to call with our ``name`` certificate, trusting the site CA."""
        pem, key = getattr(self.certs, name), getattr(self.certs, f"{name}_key")
        return ["+tls", str(key), str(pem), "+cf", str(self.certs.ca)]


@pytest.fixture(scope="module")
def listener(certs: SiteCertificates, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsListener]:
    _need("echoscu", "storescu")
    with TlsListener(tmp_path_factory.mktemp("listen-tls"), certs) as running:
        yield running


ACCEPTED = {"calling_ae_title": "MODALITY", "called_ae_title": OURS, "peer_address": "127.0.0.1",
            "tls": "yes", "peer_certificate_cn": CLIENT_CN}  # fmt: skip


@pytest.mark.slow
def test_echoscu_and_storescu_with_a_certificate_the_ca_signed_are_accepted_stored_and_audited(
    listener: TlsListener,
) -> None:
    assert "DICOM TLS only, client certificates signed by" in listener.startup
    answered = listener.dcmtk("echoscu", listener.signed_by("client"))
    assert answered.returncode == 0, answered.stdout + answered.stderr
    assert listener.audited("association-accepted").count(ACCEPTED) == 1
    source = FIXTURES / CHEST
    stored = listener.dcmtk("storescu", listener.signed_by("client"), str(source))
    assert stored.returncode == 0, stored.stdout + stored.stderr
    header = pydicom.dcmread(source, stop_before_pixels=True)
    kept = instance_path(listener.inbox, header.StudyInstanceUID, header.SOPInstanceUID)
    assert kept.read_bytes() and pydicom.dcmread(kept).SOPInstanceUID == header.SOPInstanceUID
    listener.wait_for_image(str(header.SOPInstanceUID))
    assert listener.audited("association-accepted").count(ACCEPTED) == 2


REFUSED = {  # case: (dcmtk's TLS options, the listener's reason, the audit's tls)
    "a plain association": (lambda listener: [], PLAIN, "no"),
    "a certificate from another CA": (
        lambda listener: ["+tls", str(listener.certs.stranger_key), str(listener.certs.stranger),
                          "+cf", str(listener.certs.ca)],
        "its certificate could not be verified (", "failed"),
    "no client certificate": (lambda listener: ["+tla", "+cf", str(listener.certs.ca)],
                              "it sent no client certificate", "failed"),
}  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("case", list(REFUSED))
def test_others_are_refused_said_and_audited_and_nothing_is_stored(
    listener: TlsListener, case: str, tmp_path: Path
) -> None:
    options, reason, tls = REFUSED[case]
    before = len(listener.audited("association-rejected"))
    ds = pydicom.dcmread(FIXTURES / CHEST)  # uncompressed: storescu proposes it as it is
    ds.SOPInstanceUID = generate_uid()
    path = tmp_path / "refused.dcm"
    ds.save_as(path, enforce_file_format=True)
    answered = listener.dcmtk("storescu", options(listener), str(path))
    assert answered.returncode != 0, answered.stdout + answered.stderr
    prefix = "cxr-triage: TLS connection refused from 127.0.0.1: "
    listener.wait_for_line(lambda seen: seen.startswith(prefix) and reason in seen, case)
    events = listener.audited("association-rejected")[before:]
    assert len(events) == 1 and reason in events[0]["reason"], events
    assert events[0] | {"reason": ""} == {"calling_ae_title": "", "called_ae_title": "",
                                           "peer_address": "127.0.0.1", "tls": tls, "reason": ""}  # fmt: skip
    assert not instance_path(listener.inbox, ds.StudyInstanceUID, ds.SOPInstanceUID).exists()


@pytest.mark.slow
def test_an_ae_title_rejection_over_tls_is_audited_with_tls_and_the_cn(listener: TlsListener) -> None:
    answered = listener.dcmtk("echoscu", listener.signed_by("client"), called="NOTUS")
    said = answered.stdout + answered.stderr
    assert answered.returncode != 0 and "Reason: Called AE Title Not Recognized" in said, said
    wanted = {
        "calling_ae_title": "MODALITY",
        "called_ae_title": "NOTUS",
        "peer_address": "127.0.0.1",
        "tls": "yes",
        "peer_certificate_cn": CLIENT_CN,
        "reason": "called AE title not recognised",
    }
    assert wanted in listener.audited("association-rejected")


@pytest.mark.slow
def test_a_silent_peer_neither_holds_up_others_nor_stays_past_the_timeout(listener: TlsListener) -> None:
    with socket.create_connection(("127.0.0.1", listener.port), timeout=WAIT_S) as silent:
        started = time.monotonic()
        answered = listener.dcmtk("echoscu", listener.signed_by("client"))  # meanwhile, served
        assert answered.returncode == 0, answered.stdout + answered.stderr
        assert time.monotonic() - started < HANDSHAKE_S
        said = "cxr-triage: TLS connection refused from 127.0.0.1: the TLS handshake did not finish in time"
        listener.wait_for_line(lambda seen: seen == said, "the silent peer's end")
        assert silent.recv(1) == b""  # closed by the listener
    assert time.monotonic() - started < HANDSHAKE_S + 30


@pytest.mark.slow
def test_a_peer_offering_only_tls_1_1_is_refused(listener: TlsListener) -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    context.set_ciphers("DEFAULT:@SECLEVEL=0")  # so that this OpenSSL offers TLS 1.1 at all
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = context.maximum_version = ssl.TLSVersion.TLSv1_1
    raw = socket.create_connection(("127.0.0.1", listener.port), timeout=WAIT_S)
    with raw, pytest.raises(ssl.SSLError, match="PROTOCOL_VERSION"):
        context.wrap_socket(raw)
    said = "it offers no TLS version we accept (1.2 or newer)"
    said = f"cxr-triage: TLS connection refused from 127.0.0.1: {said}"
    listener.wait_for_line(lambda seen: seen == said, "the refusal of TLS 1.1")


# -- send over DICOM TLS -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A store holding one scored DICOM study: its file and study UID."""
    folder = tmp_path_factory.mktemp("scored")
    db = folder / "s.sqlite"
    source = SAMPLES / CHEST
    assert (
        main(["triage", str(source), "--db", str(db), "--out", str(folder / "out"), "--device", "cpu"]) == 0
    )
    return db, str(pydicom.dcmread(source, stop_before_pixels=True).StudyInstanceUID)


def _send(db: Path, destination: str, *options: str) -> int:
    return main(["send", destination, "--db", str(db), "--timeout", "20", "--device", "cpu", *options])


def _client(certs: SiteCertificates) -> list[str]:
    return ["--tls-ca", str(certs.ca), "--tls-cert", str(certs.client), "--tls-key", str(certs.client_key)]


def _sent_events(db: Path) -> list[dict[str, Any]]:
    with Store(db) as store:
        return [dict(event.detail) for event in store.audit() if event.action == "pacs-send"]


@pytest.mark.slow
def test_send_to_our_own_tls_listener(listener: TlsListener, scored: tuple[Path, str]) -> None:
    db, study = scored
    assert _send(db, f"dicom://{OURS}@127.0.0.1:{listener.port}", *_client(listener.certs)) == 0
    with Store(db) as store:
        uids = [uid for _, uid, _ in store.sent(study)]
    assert len(uids) == 2
    for uid in uids:
        assert instance_path(listener.inbox, study, uid).exists()


@dataclass(frozen=True)
class TlsOrthanc:
    http: str
    dicom_port: int

    def rest(self, path: str, body: bytes | None = None) -> Any:
        """Orthanc's REST API: GET, or POST ``body``."""
        request = urllib.request.Request(f"{self.http}{path}", data=body, method="POST" if body else "GET")
        with urllib.request.urlopen(request, timeout=60) as answer:
            return json.loads(answer.read())


@pytest.fixture(scope="module")
def orthanc_tls(
    certs: SiteCertificates, listener: TlsListener, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TlsOrthanc]:
    """An Orthanc whose DICOM port speaks DICOM TLS only and wants client certificates of the site CA,
    with our TLS listener as a modality it stores to over DICOM TLS (its certificate: the server's)."""
    _need(ORTHANC)
    folder = tmp_path_factory.mktemp("orthanc-tls")
    pacs = TlsOrthanc(f"http://127.0.0.1:{free_port()}", free_port())
    config = {
        "Name": "cxr-triage-dicom-tls", "HttpPort": int(pacs.http.rsplit(":", 1)[1]),
        "DicomPort": pacs.dicom_port, "DicomAet": ORTHANC_AET, "DicomCheckCalledAet": True,
        "RemoteAccessAllowed": False, "AuthenticationEnabled": False, "UnknownSopClassAccepted": True,
        "DicomAlwaysAllowStore": True, "DicomAlwaysAllowEcho": True, "DicomScuTimeout": 20,
        "DicomTlsEnabled": True, "DicomTlsCertificate": str(certs.server),
        "DicomTlsPrivateKey": str(certs.server_key), "DicomTlsTrustedCertificates": str(certs.ca),
        "DicomTlsRemoteCertificateRequired": True,
        "DicomModalities": {"cxr": {"AET": OURS, "Host": "127.0.0.1", "Port": listener.port,
                                    "UseDicomTls": True}},
    }  # fmt: skip
    with running_orthanc(folder, config, lambda: pacs.rest("/system")):
        yield pacs


@pytest.mark.slow
def test_send_stores_into_orthanc_over_dicom_tls_and_is_audited(
    orthanc_tls: TlsOrthanc, certs: SiteCertificates, scored: tuple[Path, str]
) -> None:
    db, study = scored
    assert _send(db, f"dicom://{ORTHANC_AET}@127.0.0.1:{orthanc_tls.dicom_port}", *_client(certs)) == 0
    with Store(db) as store:
        uids = {
            uid for _, uid, destination in store.sent(study) if str(orthanc_tls.dicom_port) in destination
        }
    assert len(uids) == 2
    held = {orthanc_tls.rest(f"/instances/{i}")["MainDicomTags"]["SOPInstanceUID"]
            for i in orthanc_tls.rest("/instances")}  # fmt: skip
    assert uids <= held
    assert _sent_events(db)[-1] == {
        "node": f"dicom://{ORTHANC_AET}@127.0.0.1:{orthanc_tls.dicom_port}", "tls": True,
        "certificate_verified": True, "insecure": False, "client_certificate": True,
        "command": "send", "studies": 1,
    }  # fmt: skip


@pytest.mark.slow
def test_send_insecure_does_not_verify_the_pacs_warns_and_is_audited(
    orthanc_tls: TlsOrthanc,
    certs: SiteCertificates,
    scored: tuple[Path, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    db, _ = scored
    node = f"dicom://{ORTHANC_AET}@127.0.0.1:{orthanc_tls.dicom_port}"
    # no CA: the PACS's certificate is not verified, ours still presented (the PACS wants one)
    assert (
        _send(db, node, "--insecure", "--tls-cert", str(certs.client), "--tls-key", str(certs.client_key))
        == 0
    )
    assert "--insecure: the PACS's certificate is not verified" in capsys.readouterr().err
    event = _sent_events(db)[-1]
    assert (event["tls"], event["certificate_verified"], event["insecure"]) == (True, False, True)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("case", "options", "said"),
    [
        ("no client certificate", ["--tls-ca", "{ca}"], "refused our TLS connection (alert certificate"
         " required): it wants a client certificate its CA signed"),
        ("not the PACS's CA",
         ["--tls-ca", "{other_ca}", "--tls-cert", "{client}", "--tls-key", "{client_key}"],
         "could not be verified (self-signed certificate in certificate chain): pass the CA that signed it"
         " with --tls-ca FILE"),
        ("no TLS at all", [], "cannot reach dicom://"),
    ],
)  # fmt: skip
def test_send_without_what_the_pacs_wants_is_one_plain_line(
    orthanc_tls: TlsOrthanc, certs: SiteCertificates, scored: tuple[Path, str], case: str,
    options: list[str], said: str, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    db, _ = scored
    files = {name: getattr(certs, name) for name in ("ca", "other_ca", "client", "client_key")}
    given = [option.format(**files) for option in options]
    capsys.readouterr()
    assert _send(db, f"dicom://{ORTHANC_AET}@127.0.0.1:{orthanc_tls.dicom_port}", *given) != 0
    err = capsys.readouterr().err
    assert said in err and "Traceback" not in err, err
    assert _sent_events(db)[-1]["studies"] == 0


@pytest.mark.slow
def test_c_echo_over_dicom_tls(
    orthanc_tls: TlsOrthanc, listener: TlsListener, certs: SiteCertificates
) -> None:
    ours = DicomTls(certs.client, certs.client_key, certs.ca)
    for title, port in ((ORTHANC_AET, orthanc_tls.dicom_port), (OURS, listener.port)):
        echo(TlsDicomNode(title, "127.0.0.1", port, ours), timeout=20)  # answers: no error
        with pytest.raises(PacsError, match=r"refused our TLS connection \(alert certificate required\)"):
            echo(TlsDicomNode(title, "127.0.0.1", port, DicomTls(ca_file=certs.ca)), timeout=20)
        with pytest.raises(PacsError, match="cannot reach"):
            echo(DicomNode(title, "127.0.0.1", port), timeout=20)


@pytest.mark.slow
def test_orthanc_stores_to_our_listener_over_dicom_tls(
    orthanc_tls: TlsOrthanc, listener: TlsListener
) -> None:
    ds = pydicom.dcmread(FIXTURES / CHEST)
    ds.SOPInstanceUID = generate_uid()
    path = listener.inbox.parent / "from-orthanc.dcm"
    ds.save_as(path, enforce_file_format=True)
    uploaded = orthanc_tls.rest("/instances", path.read_bytes())
    before = listener.audited("association-accepted")
    orthanc_tls.rest("/modalities/cxr/store", json.dumps(uploaded["ID"]).encode())
    assert instance_path(listener.inbox, ds.StudyInstanceUID, ds.SOPInstanceUID).exists()
    listener.wait_for_image(str(ds.SOPInstanceUID))
    assert listener.audited("association-accepted")[len(before):] == [
        {"calling_ae_title": ORTHANC_AET, "called_ae_title": OURS, "peer_address": "127.0.0.1",
         "tls": "yes", "peer_certificate_cn": "127.0.0.1"}
    ]  # fmt: skip
