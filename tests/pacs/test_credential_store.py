"""PACS credentials in the OS credential store (keyring), never in files or on command lines: an
in-memory keyring backend stands in for the tester's real store (and keyring's ``fail`` backend for a
headless server without one).

A password still in a saved node's address is moved into the store and the settings file rewritten
without it (with no store: the file left alone, and said); ``pull NODE`` and the viewer's jobs reach a
real Orthanc with HTTP basic auth with the stored credentials; the environment's win; with no store,
``pull NODE`` says so and takes the environment's only."""

from __future__ import annotations

import base64
import csv
import json
import logging
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keyring
import pydicom
import pytest
from memory_keyring import MemoryKeyring
from orthanc_server import DICOMWEB_PLUGIN, INSTALL, SAMPLES, free_port, missing_tools, running_orthanc

from inference.cli.main import main
from inference.pacs import PacsError, credential_store
from inference.pacs.access import (
    CREDENTIAL_SOURCES,
    ENV_PASSWORD,
    ENV_TOKEN,
    ENV_USER,
    Credentials,
    credentials_from_store,
    find_credentials,
)
from inference.store.location import HOME_ENV
from viewer.core.pacs_nodes import PacsNode, nodes_from_settings
from viewer.core.settings import Settings
from viewer.pacs_client import StudyQuery, query_studies, with_credentials

USER, PASSWORD = "reader", "Keyring-Test-Pa55word-73"  # noqa: S105 (a test value)
CHEST = "DX_chest_NIH_google_1024_8bit.dcm"
EXIT_PACS, EXIT_MISUSE = 3, 2


@pytest.fixture
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (ENV_USER, ENV_PASSWORD, ENV_TOKEN):
        monkeypatch.delenv(name, raising=False)


def stored(backend: MemoryKeyring, node: str) -> dict[str, str]:
    return json.loads(backend.secrets[(credential_store.SERVICE, node)])


# --- the seam and the store, without a PACS ----------------------------------------------------------


def test_the_store_is_a_source_after_the_environment(memory_keyring: MemoryKeyring) -> None:
    assert CREDENTIAL_SOURCES[-1] is credentials_from_store
    credential_store.save("pacs", Credentials(USER, PASSWORD))
    assert stored(memory_keyring, "pacs") == {"username": USER, "password": PASSWORD}
    assert find_credentials({}, node="pacs") == Credentials(USER, PASSWORD)
    assert find_credentials({}) == Credentials()  # a node without a name: the environment only
    assert find_credentials({ENV_TOKEN: "env-token"}, node="pacs") == Credentials(token="env-token")
    credential_store.save("tok", Credentials(token="a-token"))
    assert stored(memory_keyring, "tok") == {"token": "a-token"}
    assert find_credentials({}, node="tok") == Credentials(token="a-token")
    credential_store.forget("tok")
    assert find_credentials({}, node="tok") == Credentials()
    credential_store.forget("tok")  # nothing stored: nothing to do


def test_something_else_in_the_store_is_a_plain_error(memory_keyring: MemoryKeyring) -> None:
    memory_keyring.secrets[(credential_store.SERVICE, "odd")] = "not json"
    with pytest.raises(ValueError, match="something else than CXR Triage's credentials"):
        find_credentials({}, node="odd")


def test_without_a_store_nothing_is_read_and_saving_says_why(no_keyring: None) -> None:
    assert "no OS credential store" in credential_store.unavailable()
    assert find_credentials({}, node="pacs") == Credentials()
    with pytest.raises(ValueError, match="no OS credential store"):
        credential_store.save("pacs", Credentials(USER, PASSWORD))


class BrokenKeyring(MemoryKeyring):
    def get_password(self, service: str, username: str) -> str | None:
        raise RuntimeError("the D-Bus session went away")


def test_a_store_that_fails_is_a_plain_error_and_one_that_cannot_start_is_none(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = keyring.get_keyring()
    keyring.set_keyring(BrokenKeyring())
    try:
        with pytest.raises(
            ValueError, match="cannot read the credentials of 'pacs': RuntimeError: the D-Bus"
        ):
            find_credentials({}, node="pacs")
    finally:
        keyring.set_keyring(before)

    def cannot_start() -> None:
        raise RuntimeError("Unable to initialize SecretService")

    monkeypatch.setattr(keyring, "get_keyring", cannot_start)
    assert credential_store.unavailable().startswith("the OS credential store could not be opened")
    assert find_credentials({}, node="pacs") == Credentials()


def test_keyring_is_imported_only_when_credentials_are_looked_up_by_name() -> None:
    code = (
        "import sys, inference.pacs.access as a, viewer.core.settings, viewer.pacs_client\n"
        "a.find_credentials({})\n"
        "print('keyring' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == "False"


def test_pull_reads_the_settings_file_the_viewer_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from inference.pacs.saved_nodes import saved_node, settings_path
    from viewer.core.paths import settings_path as viewer_settings_path

    monkeypatch.setenv(HOME_ENV, str(tmp_path))
    assert settings_path() == viewer_settings_path()
    Settings(path=viewer_settings_path(), pacs_nodes=[{"name": "A", "address": "http://a/dicom-web"}]).save()
    assert saved_node("A")["address"] == "http://a/dicom-web"


# --- moving passwords out of the settings ------------------------------------------------------------


def _settings_with_password(path: Path, address: str) -> bytes:
    nodes = [
        {"name": "Orthanc", "address": address},
        {"name": "Archive", "address": "dicom://ARCHIVE@10.0.0.5:104"},
    ]
    path.write_text(json.dumps({"pacs_nodes": nodes, "deidentify": True}), encoding="utf-8")
    return path.read_bytes()


def test_a_password_in_a_saved_address_moves_to_the_store(
    memory_keyring: MemoryKeyring, no_env: None, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "settings.json"
    _settings_with_password(path, f"https://{USER}:{PASSWORD}@pacs.example:8043/dicom-web")
    with caplog.at_level(logging.WARNING):
        settings = Settings.load(path)
    assert PASSWORD.encode() not in path.read_bytes()
    assert stored(memory_keyring, "Orthanc") == {"username": USER, "password": PASSWORD}
    assert json.loads(path.read_text())["pacs_nodes"] == [
        {"name": "Orthanc", "address": "https://pacs.example:8043/dicom-web"},
        {"name": "Archive", "address": "dicom://ARCHIVE@10.0.0.5:104"},
    ]
    assert json.loads(path.read_text())["deidentify"] is True  # the rest of the file as it was
    assert "credential_notice" not in json.loads(path.read_text())
    assert "moved the password of Orthanc into the OS credential store" in settings.credential_notice
    assert [r.getMessage() for r in caplog.records].count(f"PACS nodes: {settings.credential_notice}") == 1
    assert PASSWORD not in caplog.text
    [node, _] = nodes_from_settings(settings.pacs_nodes)
    reached = with_credentials(node.destination)  # type: ignore[arg-type]
    assert reached.access.credentials == Credentials(USER, PASSWORD)
    caplog.clear()
    Settings.load(path)  # the next start: nothing left to move, nothing said
    assert caplog.text == ""


def test_without_a_store_the_settings_stay_as_they_are_and_that_is_said(
    no_keyring: None, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "settings.json"
    before = _settings_with_password(path, f"http://{USER}:{PASSWORD}@pacs.example/dicom-web")
    with caplog.at_level(logging.WARNING):
        settings = Settings.load(path)
    assert path.read_bytes() == before
    assert len(nodes_from_settings(settings.pacs_nodes)) == 2  # never a node lost
    assert "no OS credential store" in settings.credential_notice and "Orthanc" in settings.credential_notice
    assert "stays in the settings file" in caplog.text and PASSWORD not in caplog.text


# --- a real Orthanc with HTTP basic auth -------------------------------------------------------------


def _auth_header() -> str:
    return "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()


def _rest(http: str, method: str, path: str, body: bytes | None = None) -> Any:
    request = urllib.request.Request(f"{http}{path}", data=body, method=method)
    request.add_header("Authorization", _auth_header())
    with urllib.request.urlopen(request, timeout=60) as answer:
        text = answer.read()
    return json.loads(text) if text else None


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An Orthanc on loopback (plain HTTP) that wants HTTP basic auth, the chest sample in it: its
    DICOMweb root."""
    missing = missing_tools()
    if missing:
        message = f"the PACS tests need {', '.join(missing)}: {INSTALL}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    folder = tmp_path_factory.mktemp("orthanc-auth")
    port = free_port()
    config = {
        "Name": "cxr-triage-keyring-tests",
        "HttpPort": port,
        "DicomPort": free_port(),
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": True,
        "RegisteredUsers": {USER: PASSWORD},
        "Plugins": [DICOMWEB_PLUGIN],
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
        "SaveJobs": False,
        "HttpThreadsCount": 4,
    }
    http = f"http://127.0.0.1:{port}"
    with running_orthanc(folder, config, lambda: _rest(http, "GET", "/system")):
        answer = _rest(http, "POST", "/instances", (SAMPLES / CHEST).read_bytes())
        assert answer["Status"] in ("Success", "AlreadyStored")
        yield f"{http}/dicom-web"


@pytest.fixture
def saved_node(guarded: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The viewer's settings (in CXR Triage's data folder) with the node "Orthanc" at ``guarded``."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv(HOME_ENV, str(home))
    nodes = [{"name": "Orthanc", "address": guarded}]
    (home / "settings.json").write_text(json.dumps({"pacs_nodes": nodes}), encoding="utf-8")
    return home / "settings.json"


def pull(target: str, folder: Path) -> int:
    db, out = folder / "s.sqlite", folder / "out"
    return main(["pull", target, "--db", str(db), "--out", str(out), "--device", "cpu", "--timeout", "20"])


def _scored(folder: Path) -> set[str]:
    with (folder / "out" / "worklist.csv").open(encoding="utf-8") as fh:
        return {row["study_uid"] for row in csv.DictReader(fh) if row["status"] == "scored"}


def _audit_bytes(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.glob("s.sqlite*")))


def test_pull_node_reaches_the_pacs_with_the_stored_credentials(
    memory_keyring: MemoryKeyring, no_env: None, saved_node: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    study = str(pydicom.dcmread(SAMPLES / CHEST, stop_before_pixels=True).StudyInstanceUID)
    credential_store.save("Orthanc", Credentials(USER, PASSWORD))
    assert pull("Orthanc", tmp_path) == 0
    assert _scored(tmp_path) == {study}
    err = capsys.readouterr().err
    assert PASSWORD not in err and "no OS credential store" not in err
    assert PASSWORD.encode() not in _audit_bytes(tmp_path)


def test_without_stored_credentials_the_pacs_refuses(
    memory_keyring: MemoryKeyring, no_env: None, saved_node: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    assert pull("Orthanc", tmp_path) == EXIT_PACS
    assert "401" in capsys.readouterr().err


def test_the_environment_wins_over_the_store(
    memory_keyring: MemoryKeyring, saved_node: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    credential_store.save("Orthanc", Credentials(USER, PASSWORD))
    monkeypatch.delenv(ENV_TOKEN, raising=False)
    monkeypatch.setenv(ENV_USER, USER)
    monkeypatch.setenv(ENV_PASSWORD, "not-the-password")
    assert pull("Orthanc", tmp_path) == EXIT_PACS
    assert "401" in capsys.readouterr().err


def test_with_no_store_pull_node_says_so_and_takes_the_environment(
    no_keyring: None, saved_node: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    for name in (ENV_USER, ENV_PASSWORD, ENV_TOKEN):
        monkeypatch.delenv(name, raising=False)
    assert pull("Orthanc", tmp_path / "a") == EXIT_PACS
    err = capsys.readouterr().err
    assert "no OS credential store" in err and "from the environment only" in err and ENV_USER in err
    monkeypatch.setenv(ENV_USER, USER)
    monkeypatch.setenv(ENV_PASSWORD, PASSWORD)
    assert pull("Orthanc", tmp_path / "b") == 0


def test_an_unknown_node_name_is_misuse_naming_the_saved_ones(
    memory_keyring: MemoryKeyring, saved_node: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        pull("Nowhere", tmp_path)
    assert stopped.value.code == EXIT_MISUSE
    err = capsys.readouterr().err
    assert "'Nowhere' is neither a DICOMweb root" in err and "(saved: Orthanc)" in err


def test_the_viewer_reaches_a_saved_node_with_its_stored_credentials(
    memory_keyring: MemoryKeyring, no_env: None, guarded: str
) -> None:
    node = PacsNode("Orthanc", guarded)
    with pytest.raises(PacsError, match="401"):
        list(query_studies(node.destination, StudyQuery(), lambda: False))  # type: ignore[arg-type]
    credential_store.save("Orthanc", Credentials(USER, PASSWORD))
    *_, found = query_studies(node.destination, StudyQuery(), lambda: False)  # type: ignore[arg-type]
    assert isinstance(found, list) and len(found) == 1
