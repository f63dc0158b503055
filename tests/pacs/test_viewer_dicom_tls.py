"""A node saved in the viewer with TLS files, against the real parts: ``listen`` over DICOM TLS (our
server certificate, client certificates the site CA signed; certificates made with ``openssl`` by
``site_certificates``), as in ``test_dicom_tls``.

The viewer's Test (``viewer.pacs_client.echo_node``) of a ``dicom://`` node with the site CA and a client
certificate is a C-ECHO over TLS that the listener answers; the same address without TLS files, or with
the CA but no client certificate, fails. The viewer's Send (``send_results``, the demo model's engine
making the SR and Secondary Capture) stores them over TLS with the node's files, and fails without
them. ``cxr-triage send NODE`` takes the saved node's address and TLS
files and stores into the TLS listener; a saved node without TLS files fails there, and an explicit
``--tls-ca`` replaces the saved files.

Without openssl or dcmtk these skip with how to install them, except under ``CI=true``, where they must
run (the fixtures of ``test_dicom_tls``)."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
import test_dicom_tls
from site_certificates import SiteCertificates
from test_dicom_tls import TlsListener
from test_listen_access import OURS

from inference.cli.main import main
from inference.pacs.cache import instance_path
from inference.pacs.destinations import PacsError
from inference.store import Store
from inference.store.location import HOME_ENV
from viewer.core.pacs_nodes import PacsNode, nodes_to_settings
from viewer.core.paths import settings_path
from viewer.core.settings import Settings
from viewer.pacs_client import echo_node

# test_dicom_tls's fixtures: the site's certificates, the TLS listener, a store with one scored study
certs, listener, scored = test_dicom_tls.certs, test_dicom_tls.listener, test_dicom_tls.scored


def _node(name: str, listener: TlsListener, *files: Path) -> PacsNode:
    return PacsNode(name, f"dicom://{OURS}@127.0.0.1:{listener.port}", *(str(f) for f in files))


def _never() -> bool:
    return False


def test_the_viewers_test_is_a_c_echo_over_tls_and_a_plain_node_fails(listener: TlsListener) -> None:
    site: SiteCertificates = listener.certs
    secure = _node("Secure", listener, site.ca, site.client, site.client_key)
    steps = list(echo_node(secure, _never))
    assert steps[-1].text == "Secure answers."
    with pytest.raises(PacsError):
        list(echo_node(_node("Plain", listener), _never))
    with pytest.raises(PacsError):  # the listener asks for a client certificate: the node's is used
        list(echo_node(_node("CA only", listener, site.ca), _never))


@pytest.mark.slow
def test_send_node_takes_the_saved_nodes_address_and_tls_files(
    listener: TlsListener,
    scored: tuple[Path, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    site: SiteCertificates = listener.certs
    monkeypatch.setenv(HOME_ENV, str(tmp_path))
    nodes = [
        _node("Secure", listener, site.ca, site.client, site.client_key),
        _node("Plain", listener),
    ]
    Settings(path=settings_path(), pacs_nodes=nodes_to_settings(nodes)).save()
    db, study = scored

    def send(*args: str) -> int:
        return main(["send", *args, "--db", str(db), "--timeout", "20", "--device", "cpu"])

    assert send("Plain") != 0  # the TLS listener refuses a plain association
    assert send("Secure", "--tls-ca", str(site.other_ca)) != 0  # the option wins: the server is untrusted
    with Store(db) as store:
        assert list(store.sent(study)) == []
    assert send("Secure") == 0
    with Store(db) as store:
        uids = [uid for _, uid, _ in store.sent(study)]
        sends = [dict(event.detail) for event in store.audit() if event.action == "pacs-send"]
    assert len(uids) == 2
    for uid in uids:
        assert instance_path(listener.inbox, study, uid).exists()
    assert sends[-1]["tls"] is True and sends[-1]["client_certificate"] is True
    assert sends[-1]["node"] == f"dicom://{OURS}@127.0.0.1:{listener.port}"


@pytest.mark.slow
def test_the_viewers_send_stores_over_tls_with_the_nodes_files(
    listener: TlsListener, scored: tuple[Path, str], tmp_path: Path
) -> None:
    """The Send tab's job (``send_results``, with the demo model's engine) to a node with TLS files."""
    from inference.bundled import DEMO_MODEL
    from inference.runtime.engine import Engine
    from viewer.pacs_client import send_results

    site: SiteCertificates = listener.certs
    source_db, study = scored
    db = tmp_path / "copy.sqlite"
    with closing(sqlite3.connect(source_db)) as source, closing(sqlite3.connect(db)) as copy:
        source.backup(copy)  # a copy of the scored store: the other tests' sends stay theirs
    with Store(db) as store:
        before = store.sent(study)
        for _, uid, _ in before:  # sent by the test before: gone from the inbox, so that this send shows
            instance_path(listener.inbox, study, uid).unlink(missing_ok=True)
        engine = Engine(store=store)
        try:
            info = engine.load(DEMO_MODEL, "cpu").result()
            thresholds = info.card.thresholds(None)
            plain = _node("Plain", listener)
            with pytest.raises(PacsError):
                list(send_results(store, engine, info.card, thresholds, study, plain, _never))
            secure = _node("Secure", listener, site.ca, site.client, site.client_key)
            steps = list(send_results(store, engine, info.card, thresholds, study, secure, _never))
        finally:
            engine.shutdown()
        assert steps[-1].text == "SR and Secondary Capture sent to Secure."
        sent = store.sent(study)[len(before) :]
    assert sorted(kind for kind, _, _ in sent) == ["sc", "sr"]
    for _, uid, _ in sent:
        assert instance_path(listener.inbox, study, uid).exists()
