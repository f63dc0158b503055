"""A DICOMweb node saved in the viewer with its TLS files, against a real Orthanc over HTTPS that asks
for basic auth and a client certificate (``test_pacs_tls``'s ``mutual``): the viewer's Test and search
verify the server with the node's CA file and present its client certificate, with the credentials the
OS credential store keeps under the node's name (an in-memory keyring here). Without the client
certificate, or without the CA (and no ``REQUESTS_CA_BUNDLE``), they fail. ``cxr-triage send NODE``
(and ``pull NODE``) reach it with the saved node's CA, client certificate and stored credentials; an explicit
``--tls-ca`` replaces all the saved TLS files (so, without a client certificate, it is refused).

Without Orthanc or openssl these skip with how to install them, except under ``CI=true``."""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest
import test_pacs_tls
from memory_keyring import MemoryKeyring
from orthanc_server import SAMPLES
from test_pacs_tls import CHEST, EXIT_PACS, PASSWORD, USER, SecureOrthanc

from inference.cli.main import main
from inference.pacs import credential_store
from inference.pacs.access import ENV_PASSWORD, ENV_TOKEN, ENV_USER, Credentials
from inference.pacs.destinations import PacsError
from inference.store import Store
from inference.store.location import HOME_ENV
from viewer.core.pacs_nodes import PacsNode, nodes_to_settings
from viewer.core.paths import settings_path
from viewer.core.settings import Settings
from viewer.pacs_client import StudyQuery, echo_node, query_studies

# test_pacs_tls's fixtures: the site's certificates, an Orthanc over HTTPS asking for a client certificate
certs, mutual = test_pacs_tls.certs, test_pacs_tls.mutual


def _never() -> bool:
    return False


@pytest.fixture
def no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (ENV_USER, ENV_PASSWORD, ENV_TOKEN, "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)


def test_a_dicomweb_node_uses_its_ca_client_certificate_and_stored_credentials(
    mutual: SecureOrthanc, no_environment: None, memory_keyring: MemoryKeyring
) -> None:
    site = mutual.certs
    files = (str(site.ca), str(site.client), str(site.client_key))
    node = PacsNode("Mutual", mutual.dicomweb, *files)
    credential_store.save("Mutual", Credentials(USER, PASSWORD))
    assert list(echo_node(node, _never))[-1].text == "Mutual answers."
    *_, found = query_studies(node.destination, StudyQuery(), _never)
    assert isinstance(found, list) and len(found) == 1

    for name, kept in (("No client certificate", files[:1]), ("No CA", ("", *files[1:]))):
        credential_store.save(name, Credentials(USER, PASSWORD))
        with pytest.raises(PacsError):
            list(echo_node(PacsNode(name, mutual.dicomweb, *kept), _never))


@pytest.mark.slow
def test_send_node_to_dicomweb_takes_the_saved_tls_files_and_stored_credentials(
    mutual: SecureOrthanc,
    no_environment: None,
    memory_keyring: MemoryKeyring,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    site = mutual.certs
    db = tmp_path / "s.sqlite"
    monkeypatch.setenv(HOME_ENV, str(tmp_path))
    node = PacsNode("Mutual", mutual.dicomweb, str(site.ca), str(site.client), str(site.client_key))
    Settings(path=settings_path(), pacs_nodes=nodes_to_settings([node])).save()
    credential_store.save("Mutual", Credentials(USER, PASSWORD))

    def pull(*args: str) -> int:
        return main(["pull", *args, "--db", str(db), "--out", str(tmp_path / "out"), "--device", "cpu",
                     "--timeout", "20"])  # fmt: skip

    assert pull("Mutual", "--tls-ca", str(site.ca)) == EXIT_PACS  # the options win: no client certificate
    assert pull("Mutual") == 0  # pull NODE too: the saved CA and client certificate
    study = str(pydicom.dcmread(SAMPLES / CHEST, stop_before_pixels=True).StudyInstanceUID)
    with Store(db) as store:
        [retrieved] = [
            dict(e.detail) for e in store.audit() if e.action == "pacs-retrieve" and e.detail["studies"]
        ]
        assert store.has_study(study)
    assert retrieved["client_certificate"] and retrieved["authentication"] == "basic"

    def send(*args: str) -> int:
        return main(["send", *args, "--db", str(db), "--timeout", "20", "--device", "cpu"])

    assert send("Mutual", "--tls-ca", str(site.ca)) == EXIT_PACS  # the options win: no client certificate
    assert send("Mutual") == 0
    with Store(db) as store:
        sent = [dict(e.detail) for e in store.audit() if e.action == "pacs-send"]
    assert sent[-1]["node"] == mutual.dicomweb and sent[-1]["studies"] == 1
    assert sent[-1]["client_certificate"] and sent[-1]["certificate_verified"]
    assert sent[-1]["authentication"] == "basic"
