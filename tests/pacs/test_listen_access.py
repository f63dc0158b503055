"""Who ``cxr-triage listen`` talks to, seen from outside: dcmtk's ``echoscu`` and ``storescu`` (the
tools a hospital's IT uses to test a DICOM node) associate with a running listener on loopback.

The called AE title must be ``--aet``; with ``--allow AET[@HOST]`` only those calling AE titles (from
that host, when given) are accepted. Anything else gets an A-ASSOCIATE-RJ with its PS3.8 reason
(called AE title not recognised: 7; calling AE title not recognised: 3), one line from the listener
and an ``association-rejected`` audit event. An accepted storescu stores in every compressed transfer
syntax it proposes, and the listener keeps and records what it was sent.

Without dcmtk these skip with how to install it, except under ``CI=true``, where they must run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pydicom
import pytest
from listen_runner import WAIT_S, ListenRunner
from orthanc_server import free_port
from pydicom.uid import (
    JPEG2000,
    UID,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLosslessSV1,
    JPEGLSLossless,
    generate_uid,
)

from inference.api import Status
from inference.cli.main import build_parser
from inference.pacs.cache import instance_path
from inference.pacs.dimse import CALLED_AE_NOT_RECOGNISED, CALLING_AE_NOT_RECOGNISED, Access, Peer
from inference.store import Store

OURS = "CXRTRIAGE"
FIXTURES = Path(__file__).parents[1] / "fixtures" / "dicom"
TOOL_TIMEOUT = ["-to", "30", "-ta", "30", "-td", "60"]  # dcmtk's own connection, ACSE and DIMSE timeouts
# GOOD from anywhere; NEAR only from 127.0.0.1 (where the tests connect from), FAR only from 127.0.0.2;
# NAMED from the addresses of "localhost" (a name, resolved when the listener starts).
ALLOW = ("GOOD", "NEAR@127.0.0.1", "FAR@127.0.0.2", "NAMED@localhost")
ACTION = "association-rejected"
ACCEPTED = "association-accepted"


# -- the rules, without a network ------------------------------------------------------------------
def test_allow_takes_an_ae_title_and_an_optional_host() -> None:
    parser = build_parser(only="listen")
    args = parser.parse_args(["listen", "--port", "104", "--allow", "PACS", "--allow", "CR1@10.0.0.5"])
    assert args.allow == [Peer("PACS"), Peer("CR1", "10.0.0.5")]
    assert parser.parse_args(["listen", "--port", "104"]).allow == []


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        ("@10.0.0.5", "not a valid AE title"),
        ("PACS@", "expected AE_TITLE or AE_TITLE@HOST"),
        ("A_TITLE_OF_17_CHARS", "not a valid AE title"),
        ("BACK\\SLASH@10.0.0.5", "not a valid AE title"),
    ],
)
def test_a_bad_allow_is_a_usage_error(bad: str, why: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser(only="listen").parse_args(["listen", "--port", "104", "--allow", bad])
    assert exit_info.value.code == 2
    assert f"argument --allow: {why}" in capsys.readouterr().err


def test_the_called_ae_title_must_be_ours_and_the_calling_one_allowed_from_its_host() -> None:
    access = Access(OURS, [Peer("PACS"), Peer("CR1", "127.0.0.2"), Peer("CR1", "127.0.0.3")])
    reasons = {
        ("PACS", OURS, "10.1.2.3"): None,
        ("PACS ", f"{OURS} ", "10.1.2.3"): None,  # trailing spaces are padding (PS3.5)
        ("CR1", OURS, "127.0.0.3"): None,
        ("CR1", OURS, "::ffff:127.0.0.2"): None,  # an IPv4 peer seen by an IPv6 socket
        ("CR1", OURS, "127.0.0.1"): CALLING_AE_NOT_RECOGNISED,
        ("STRANGER", OURS, "127.0.0.2"): CALLING_AE_NOT_RECOGNISED,
        ("PACS", "OTHER", "10.1.2.3"): CALLED_AE_NOT_RECOGNISED,
        ("STRANGER", "OTHER", "10.1.2.3"): CALLED_AE_NOT_RECOGNISED,  # the called AE title is checked first
    }
    found = {}
    for calling, called, address in reasons:
        rejection = access.check(called, calling, address)
        found[calling, called, address] = rejection.reason if rejection else None
    assert found == reasons
    assert Access(OURS).check(OURS, "ANYONE", "10.9.9.9") is None
    assert Access(OURS).check("OTHER", "ANYONE", "10.9.9.9") is not None


# -- dcmtk against the running listener ------------------------------------------------------------
@pytest.fixture(scope="module")
def dcmtk() -> None:
    missing = [tool for tool in ("echoscu", "storescu") if shutil.which(tool) is None]
    if missing:
        message = f"the listener access tests need dcmtk's {' and '.join(missing)}: apt-get install dcmtk"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (CI must run them; .ci/run installs it)")
        pytest.skip(message)


class Listener(ListenRunner):
    """``cxr-triage listen`` on 127.0.0.1 in a subprocess (stopped with SIGTERM, killed if it will not
    stop), its output lines on a queue, and dcmtk's tools to call it."""

    def __init__(self, folder: Path, *allow: str) -> None:
        self.port, self.db, self.inbox = free_port(), folder / "s.sqlite", folder / "inbox"
        command = [sys.executable, "-m", "inference.cli.main", "listen", "--port", str(self.port),
                        "--bind", "127.0.0.1", "--aet", OURS, "--db", str(self.db),
                        "--inbox", str(self.inbox), "--device", "cpu",
                        *(arg for peer in allow for arg in ("--allow", peer))]  # fmt: skip
        super().__init__(command)

    def echo(self, calling: str, called: str) -> subprocess.CompletedProcess[str]:
        return _run(["echoscu", *TOOL_TIMEOUT, "-aet", calling, "-aec", called, "127.0.0.1", str(self.port)])

    def store(self, calling: str, called: str, propose: str, path: Path) -> subprocess.CompletedProcess[str]:
        return _run(["storescu", *TOOL_TIMEOUT, propose, "-aet", calling, "-aec", called,
                     "127.0.0.1", str(self.port), str(path)])  # fmt: skip

    def rejections(self) -> list[dict[str, Any]]:
        return self.audited(ACTION)

    def audited(self, action: str) -> list[dict[str, Any]]:
        with Store(self.db) as store:
            return [dict(event.detail) for event in store.audit() if event.action == action]

    def wait_for_image(self, sop_uid: str) -> Status:
        """The status the store gave the image once the listener recorded it."""
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            with Store(self.db) as store:
                found = [image.entry.status for image in store.images() if image.image_uid == sop_uid]
            if found:
                return found[0]
            time.sleep(0.2)
        raise AssertionError(f"{sop_uid} was not recorded; the listener said: {self.seen[-20:]}")


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=WAIT_S, check=False)


@pytest.fixture(scope="module")
def listener(dcmtk: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Listener]:
    with Listener(tmp_path_factory.mktemp("listen-allow"), *ALLOW) as running:
        yield running


@pytest.mark.slow
@pytest.mark.parametrize("calling", ["GOOD", "NEAR", "NAMED"])
def test_an_allowed_calling_ae_title_that_calls_us_is_accepted(listener: Listener, calling: str) -> None:
    assert "accepting only calling AE titles GOOD (any address), NEAR (127.0.0.1)" in listener.startup
    detail = {"calling_ae_title": calling, "called_ae_title": OURS, "peer_address": "127.0.0.1", "tls": "no"}
    before = listener.audited(ACCEPTED).count(detail)
    answered = listener.echo(calling, OURS)
    assert answered.returncode == 0, answered.stdout + answered.stderr
    assert listener.audited(ACCEPTED).count(detail) == before + 1  # audited before the association goes on


REJECTED = {  # case: (calling AE title, called AE title, what dcmtk prints, the listener's reason, number)
    "a wrong called AE title": ("GOOD", f"NOT{OURS}", "Called AE Title Not Recognized",
                                "called AE title not recognised", 7),
    "an unknown calling AE title": ("STRANGER", OURS, "Calling AE Title Not Recognized",
                                    "calling AE title not recognised", 3),
    "an allowed AE title from another host": ("FAR", OURS, "Calling AE Title Not Recognized",
                                              "calling AE title not recognised", 3),
}  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("tool", ["echoscu", "storescu"])
@pytest.mark.parametrize("case", list(REJECTED))
def test_others_are_rejected_at_association_logged_and_audited(
    listener: Listener, case: str, tool: str
) -> None:
    calling, called, dcmtk_reason, reason, number = REJECTED[case]
    detail = {"calling_ae_title": calling, "called_ae_title": called, "peer_address": "127.0.0.1",
              "tls": "no", "reason": reason}  # fmt: skip
    before = listener.rejections().count(detail)
    source = FIXTURES / "DX_16bit_J2KR.dcm"
    if tool == "echoscu":
        answered = listener.echo(calling, called)
    else:
        answered = listener.store(calling, called, "-xv", source)
    said = answered.stdout + answered.stderr
    assert answered.returncode != 0, said
    assert "Association Rejected" in said and "Result: Rejected Permanent, Source: Service User" in said
    assert f"Reason: {dcmtk_reason}" in said
    # the audit event is written before the A-ASSOCIATE-RJ is sent
    assert listener.rejections().count(detail) == before + 1
    line = (f"cxr-triage: association rejected from 127.0.0.1: calling AE title {calling!r}, "
            f"called AE title {called!r}: {reason} (reason {number})")  # fmt: skip
    assert listener.wait_for_line(lambda seen: seen == line, f"the rejection of {case}") == line
    header = pydicom.dcmread(source, stop_before_pixels=True)
    assert not instance_path(listener.inbox, header.StudyInstanceUID, header.SOPInstanceUID).exists()


def _j2k_lossy(folder: Path) -> Path:
    """No fixture is JPEG 2000 (lossy): one made from the uncompressed NIH chest image."""
    ds = pydicom.dcmread(FIXTURES / "DX_chest_NIH_google_1024_8bit.dcm")
    ds.compress(JPEG2000, j2k_cr=[20])
    ds.SOPInstanceUID = generate_uid()
    path = folder / "j2k_lossy.dcm"
    ds.save_as(path, enforce_file_format=True)
    return path


COMPRESSED = [  # storescu's option, the file, its transfer syntax (what that option proposes)
    ("-xy", "CR_chest_SIIM_jpegbaseline_8bit.dcm", JPEGBaseline8Bit),
    ("-xx", "RG2_JPLY_fixed.dcm", JPEGExtended12Bit),
    ("-xs", "RG2_JPLL.dcm", JPEGLosslessSV1),
    ("-xt", "RG2_JLSL.dcm", JPEGLSLossless),
    ("-xv", "DX_chest_PA_canon_J2KR_MONO1_966_fixed.dcm", JPEG2000Lossless),
    ("-xw", "", JPEG2000),
]


@pytest.mark.slow
@pytest.mark.parametrize(("propose", "name", "syntax"), COMPRESSED, ids=[c[0] for c in COMPRESSED])
def test_storescu_stores_in_each_compressed_transfer_syntax(
    listener: Listener, tmp_path: Path, propose: str, name: str, syntax: UID
) -> None:
    path = FIXTURES / name if name else _j2k_lossy(tmp_path)
    source = pydicom.dcmread(path)
    assert source.file_meta.TransferSyntaxUID == syntax
    answered = listener.store("GOOD", OURS, propose, path)
    assert answered.returncode == 0, answered.stdout + answered.stderr
    kept = pydicom.dcmread(instance_path(listener.inbox, source.StudyInstanceUID, source.SOPInstanceUID))
    assert kept.file_meta.TransferSyntaxUID == syntax  # negotiated and kept as sent, not transcoded
    assert kept.PixelData == source.PixelData
    assert listener.wait_for_image(str(source.SOPInstanceUID)) is not Status.ERROR


@pytest.mark.slow
def test_without_allow_any_calling_ae_title_is_accepted_but_it_must_call_us(
    dcmtk: None, tmp_path: Path
) -> None:
    with Listener(tmp_path) as listener:
        assert "accepting any calling AE title" in listener.startup
        answered = listener.echo("ANYONE", OURS)
        assert answered.returncode == 0, answered.stdout + answered.stderr
        refused = listener.echo("ANYONE", "SOMEONEELSE")
        said = refused.stdout + refused.stderr
        assert refused.returncode != 0 and "Reason: Called AE Title Not Recognized" in said, said
        assert listener.rejections() == [{"calling_ae_title": "ANYONE", "called_ae_title": "SOMEONEELSE",
                                          "peer_address": "127.0.0.1", "tls": "no",
                                          "reason": "called AE title not recognised"}]  # fmt: skip
        assert listener.audited(ACCEPTED) == [
            {"calling_ae_title": "ANYONE", "called_ae_title": OURS, "peer_address": "127.0.0.1", "tls": "no"}
        ]
