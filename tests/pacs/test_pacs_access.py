"""How a DICOMweb node is reached, without a PACS: credentials from the environment only (never shown),
the requests session built from them (verification pinned, client certificate, basic or bearer), and
the commands' refusals (a password in the URL, contradicting or unreadable options: exit 2)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from inference.cli.main import build_parser, main
from inference.pacs.access import (
    ENV_PASSWORD,
    ENV_TOKEN,
    ENV_USER,
    Credentials,
    WebAccess,
    credentials_from_environment,
    find_credentials,
)
from inference.pacs.destinations import DicomNode, WebNode, parse_destination
from inference.pacs.dicomweb import _session

SECRET = "s3cret-pa55"  # noqa: S105 (a test value)
URL = "https://pacs.example/dicom-web"


def test_secrets_never_show_in_str_or_repr() -> None:
    basic, token = Credentials("alice", SECRET), Credentials(token=SECRET)
    node = WebNode(URL, WebAccess(basic, ca_file=Path("ca.pem")))
    shown = " ".join(repr(x) + str(x) for x in (basic, token, node, node.access, WebAccess(token)))
    assert SECRET not in shown and "alice" not in shown
    assert (basic.scheme, token.scheme, Credentials().scheme) == ("basic", "token", "none")
    assert str(WebNode("https://bob:pw@pacs:8443/dicom-web")) == "https://pacs:8443/dicom-web"


def test_credentials_come_from_the_environment_whole_or_not_at_all() -> None:
    assert credentials_from_environment({}) is None
    assert find_credentials({}) == Credentials()
    assert find_credentials({ENV_USER: "alice", ENV_PASSWORD: SECRET}) == Credentials("alice", SECRET)
    assert find_credentials({ENV_TOKEN: SECRET}) == Credentials(token=SECRET)
    with pytest.raises(ValueError, match=ENV_PASSWORD):
        find_credentials({ENV_USER: "alice"})
    with pytest.raises(ValueError, match="not both"):
        find_credentials({ENV_USER: "alice", ENV_PASSWORD: SECRET, ENV_TOKEN: "t"})


def test_the_session_verifies_with_the_given_ca_whatever_the_environment_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ca, cert, key = (tmp_path / name for name in ("ca.pem", "c.pem", "k.pem"))
    for path in (ca, cert, key):
        path.write_text("x")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "other.pem"))  # requests would prefer it
    access = WebAccess(Credentials("alice", SECRET), ca_file=ca, client_cert=cert, client_key=key)
    with _session(access) as session:
        assert session.merge_environment_settings(URL, {}, None, None, None)["verify"] == str(ca)
        assert session.cert == (str(cert), str(key))
        assert session.auth == ("alice", SECRET) and "Authorization" not in session.headers
    with _session(WebAccess(Credentials(token=SECRET), insecure=True)) as session:
        assert session.merge_environment_settings(URL, {}, None, None, None)["verify"] is False
        assert session.headers["Authorization"] == f"Bearer {SECRET}" and session.auth is None
    with _session(WebAccess()) as session:  # no CA given: the default, or the environment's bundle
        assert session.merge_environment_settings(URL, {}, None, None, None)["verify"] == str(
            tmp_path / "other.pem"
        )
        assert session.verify is True


def test_access_that_contradicts_itself_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="--tls-key needs --tls-cert"):
        WebAccess(client_key=tmp_path / "k.pem")
    with pytest.raises(ValueError, match="cannot go with --tls-ca"):
        WebAccess(ca_file=tmp_path / "ca.pem", insecure=True)
    assert WebAccess(ca_file=tmp_path / "no.pem").missing_files() == [f"--tls-ca {tmp_path / 'no.pem'}"]


def test_audit_detail_says_how_a_node_was_reached_never_a_secret() -> None:
    detail = WebAccess(Credentials("alice", SECRET), insecure=True).audit_detail("https")
    assert detail == {
        "tls": True,
        "certificate_verified": False,
        "insecure": True,
        "client_certificate": False,
        "authentication": "basic",
    }
    assert WebAccess().audit_detail("http")["tls"] is False


@pytest.mark.parametrize(("command", "out"), [("pull", True), ("send", False), ("batch", True)])
def test_a_password_in_the_url_is_refused(
    command: str, out: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"https://alice:{SECRET}@pacs.example/dicom-web"
    code = main(
        [command, url, "--db", str(tmp_path / "s.sqlite"), *(["--out", str(tmp_path)] if out else [])]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "password in the URL" in err and ENV_PASSWORD in err and SECRET not in err
    assert not (tmp_path / "s.sqlite").exists()  # refused before anything was done


def test_contradicting_or_unreadable_tls_options_are_misuse(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    base = ["pull", URL, "--db", str(tmp_path / "s.sqlite"), "--out", str(tmp_path / "out")]
    assert main([*base, "--tls-ca", str(tmp_path / "missing.pem")]) == 2
    assert f"cannot read --tls-ca {tmp_path / 'missing.pem'}" in capsys.readouterr().err
    (tmp_path / "ca.pem").write_text("x")
    assert main([*base, "--tls-ca", str(tmp_path / "ca.pem"), "--insecure"]) == 2
    assert "cannot go with --tls-ca" in capsys.readouterr().err
    monkeypatch.setenv(ENV_USER, "alice")
    assert main(base) == 2
    assert ENV_PASSWORD in capsys.readouterr().err


def test_parse_destination_keeps_no_access() -> None:
    assert parse_destination(URL) == WebNode(URL) and WebNode(URL).access == WebAccess()


@pytest.mark.parametrize("command", ["pull", "send", "batch"])
def test_the_dicomweb_commands_take_the_access_options(command: str) -> None:
    parser = build_parser(only=command)
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    dests = {a.dest for a in sub.choices[command]._actions}
    assert {"tls_ca", "tls_cert", "tls_key", "insecure"} <= dests


@pytest.mark.parametrize(
    ("reason", "said"),
    [
        ("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: certificate has expired (_ssl.c:1006)",
         "could not be verified (certificate has expired): a certificate problem"),
        ("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: Hostname mismatch, certificate is not"
         " valid for 'pacs.example'. (_ssl.c:1006)", "(Hostname mismatch, certificate is not valid for"),
        ("[SSL: TLSV13_ALERT_CERTIFICATE_REQUIRED] tlsv13 alert certificate required (_ssl.c:2580)",
         "failed, a certificate problem (tlsv13 alert certificate required): if it asks for a client"),
    ],
)  # fmt: skip
def test_a_tls_failure_is_one_plain_line_saying_what_to_pass(reason: str, said: str) -> None:
    from requests.exceptions import SSLError

    from inference.pacs.dicomweb import _tls_failure

    error = SSLError(f"HTTPSConnectionPool(host='pacs.example', port=443): Max retries exceeded (Caused by "
                     f"SSLError(SSLError(1, '{reason}')))")  # fmt: skip
    message = _tls_failure(URL, error)
    assert said in message and "--tls-" in message and "HTTPSConnectionPool" not in message


def test_tls_options_that_do_nothing_are_said(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from inference.cli.commands import pacs_common

    (tmp_path / "ca.pem").write_text("x")
    args = argparse.Namespace(tls_ca=tmp_path / "ca.pem", tls_cert=None, tls_key=None, insecure=False)
    access = pacs_common.web_access(args)
    assert isinstance(access, WebAccess)
    assert pacs_common.secured(WebNode("http://pacs/dicom-web"), access) == WebNode(
        "http://pacs/dicom-web", access
    )
    assert "plain HTTP: the TLS options do nothing there" in capsys.readouterr().err
    monkeypatch.setenv(ENV_TOKEN, SECRET)
    with_token = pacs_common.web_access(args)
    assert isinstance(with_token, WebAccess) and with_token.credentials.scheme == "token"
    pacs_common.secured(WebNode("http://pacs/dicom-web"), with_token)
    err = capsys.readouterr().err
    assert "credentials are sent to http://pacs/dicom-web over plain HTTP" in err and SECRET not in err
    # for a DIMSE node they turn DICOM TLS on: a CA file that is no certificate is said at once
    problem = pacs_common.dicom_secured(args, DicomNode("PACS", "pacs", 104))
    assert isinstance(problem, str) and problem.startswith(f"cannot use --tls-ca {tmp_path / 'ca.pem'}: ")
