"""``listen --min-free-gb``: on a real small file system (a tmpfs of 8 MB holding the store and its
inbox), an instance that arrives while less than the floor is free is refused with status 0xA700 (out
of resources) and nothing is written; the drop is said and audited once; once space is freed, the
next instance is stored without restarting the listener.

Mounting needs root: without it these skip, except under ``CI=true`` (where the tests run as root),
where they must run. The sender is pynetdicom (the exact status); the listener fixture wants dcmtk as the
listener access tests do."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pydicom
import pytest
from pynetdicom import AE
from test_listen_access import FIXTURES, OURS, Listener, dcmtk  # noqa: F401 (dcmtk: a fixture)

from inference.pacs.cache import instance_path
from inference.store import Store

FLOOR_GB = 0.004  # 4 MB of the 8 MB file system
SMALL = FIXTURES / "CR_chest_SIIM_jpegbaseline_8bit.dcm"  # 127 kB, JPEG baseline


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A tmpfs of 8 MB, unmounted afterwards."""
    if os.geteuid() != 0:
        message = "the disk floor test mounts a tmpfs: run it as root"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (CI runs the tests as root and must run it)")
        pytest.skip(message)
    folder = tmp_path / "small"
    folder.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(folder)], check=True)
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def _c_store(port: int, path: Path) -> int:
    """The status a C-STORE of ``path`` gets from the listener (pynetdicom as the sender)."""
    ds = pydicom.dcmread(path)
    ae = AE(ae_title="SENDER")
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 30
    ae.add_requested_context(ds.SOPClassUID, ds.file_meta.TransferSyntaxUID)
    assoc = ae.associate("127.0.0.1", port, ae_title=OURS)
    assert assoc.is_established
    try:
        return int(assoc.send_c_store(ds).Status)
    finally:
        assoc.release()


def _audited(db: Path, action: str) -> list[dict]:
    with Store(db) as store:
        return [dict(e.detail) for e in store.audit() if e.action == action]


@pytest.mark.slow
def test_below_the_floor_instances_are_refused_out_of_resources_until_space_returns(
    dcmtk: None,  # noqa: F811
    small_fs: Path,
) -> None:
    listener = Listener(small_fs)
    listener.command += ["--min-free-gb", str(FLOOR_GB)]
    header = pydicom.dcmread(SMALL, stop_before_pixels=True)
    kept = instance_path(listener.inbox, header.StudyInstanceUID, header.SOPInstanceUID)
    with listener:
        assert f"refusing instances below {FLOOR_GB:g} GB free" in listener.startup
        # fill the file system to 3 MB free: below the 4 MB floor
        filler = small_fs / "filler"
        filler.write_bytes(b"\0" * (shutil.disk_usage(small_fs).free - 3_000_000))
        assert shutil.disk_usage(small_fs).free < FLOOR_GB * 1e9
        for _ in range(2):
            assert _c_store(listener.port, SMALL) == 0xA700
            assert not kept.exists()
        line = listener.wait_for_line(lambda seen: "GB free in the inbox (floor" in seen, "the drop")
        assert "refusing instances (status 0xA700, out of resources)" in line
        [dropped] = _audited(listener.db, "disk-floor-reached")  # once per drop, not per instance
        assert dropped["floor_gb"] == FLOOR_GB and dropped["free_gb"] < FLOOR_GB

        filler.unlink()  # space returns: the next instance is stored, without a restart
        assert _c_store(listener.port, SMALL) == 0x0000
        assert kept.exists()
        listener.wait_for_line(lambda seen: "GB free in the inbox again" in seen, "the resumption")
        assert len(_audited(listener.db, "disk-floor-cleared")) == 1
        listener.wait_for_image(str(header.SOPInstanceUID))
