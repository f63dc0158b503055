"""Runs that cannot finish say so, on a real full (or read-only) file system: the real ``cxr-triage``
in a subprocess, its study store or output folder on a small tmpfs mounted for the test.

Each ends with a non-zero exit code and one plain line on stderr (no traceback); a store that fills
mid-run leaves a worklist marked partial that counts the studies it did not score; an output folder
that fills leaves no half file, no temporary file, and any previous worklist as it was.

Mounting needs root: the tests skip elsewhere, except in CI (``CI=true``), which runs as root.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from inference.bundled import SAMPLES
from inference.cli.commands.common import EXIT_STOPPED
from inference.io.atomic import write_bytes_atomic

pytestmark = pytest.mark.slow

IMAGES = 24  # small distinct PNGs
STORE_ROOM = 160 * 1024  # free bytes left beside the store: a few batches of the 24 images, not all
PROGRESS = ("Scoring:", "Heatmaps:")  # progress lines (stderr, not a terminal): not messages


class Mounts:
    """Small file systems for one test, each unmounted when the test ends (whatever happened)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.points: list[Path] = []

    def tmpfs(self, name: str, kib: int) -> Path:
        point = self.root / name
        point.mkdir()
        _mount("-t", "tmpfs", "-o", f"size={kib}k,mode=0755", "tmpfs", str(point))
        self.points.append(point)
        return point

    def read_only(self, path: Path) -> None:
        """``path`` (a file) becomes read-only for everyone, root included (a read-only bind mount)."""
        _mount("--bind", str(path), str(path))
        self.points.append(path)
        _mount("-o", "remount,ro,bind", str(path))

    def unmount_all(self) -> None:
        for point in reversed(self.points):
            if subprocess.run(["umount", str(point)], capture_output=True).returncode:
                subprocess.run(["umount", "-l", str(point)], capture_output=True)  # busy: detach it
        self.points.clear()


def _mount(*args: str) -> None:
    done = subprocess.run(["mount", *args], capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"mount {' '.join(args)} failed: {done.stderr.strip()}")


@pytest.fixture
def mounts(tmp_path: Path) -> Iterator[Mounts]:
    if not (hasattr(os, "geteuid") and os.geteuid() == 0) and os.environ.get("CI") != "true":
        pytest.skip("mounting a small file system needs root (CI runs these as root)")
    root = tmp_path / "mounts"
    root.mkdir()
    mounted = Mounts(root)
    try:
        yield mounted
    finally:
        mounted.unmount_all()


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """IMAGES distinct small radiographs (one sample, cropped IMAGES ways), one study each."""
    folder = tmp_path_factory.mktemp("images")
    pixels = cv2.resize(cv2.imread(str(SAMPLES / "00000001_000.png"), cv2.IMREAD_GRAYSCALE), (256, 256))
    for k in range(IMAGES):
        crop = np.ascontiguousarray(pixels[k % 6 :, k // 6 :])
        cv2.imwrite(str(folder / f"img_{k:02d}.png"), crop)
    return folder


@pytest.fixture(scope="module")
def few(images: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four of them: enough for a worklist that does not fit in a full folder."""
    folder = tmp_path_factory.mktemp("few")
    for path in sorted(images.iterdir())[:4]:
        (folder / path.name).write_bytes(path.read_bytes())
    return folder


def fill(folder: Path, leave: int = 0) -> None:
    """Fill the file system of ``folder`` until only ``leave`` bytes are free."""
    stat = os.statvfs(folder)
    remaining = stat.f_bavail * stat.f_frsize - leave
    handle = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        while remaining > 0:
            try:
                remaining -= os.write(handle, bytes(min(1 << 16, remaining)))
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
                break
    finally:
        os.close(handle)


def cxr_triage(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """The ``cxr-triage`` console script's entry point, in a new process."""
    code = "import sys; from viewer.app import main; sys.exit(main())"
    return subprocess.run(
        [sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True, timeout=600
    )


def one_line(stderr: str) -> str:
    """stderr's only message (progress lines aside); fails unless there is exactly one, plain."""
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip() and not line.startswith(PROGRESS)]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("cxr-triage: "), lines[0]
    return lines[0]


def triage(images: Path, package: Path, db: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return cxr_triage(
        "triage", images, "--model", package, "--db", db, "--out", out, "--device", "cpu",
        "--batch-size", "4", *extra,
    )  # fmt: skip


def test_a_store_that_fills_mid_run_stops_with_one_line_and_a_partial_worklist(
    mounts: Mounts, images: Path, random_package: Path, tmp_path: Path
):
    from inference.store import Store

    store_fs = mounts.tmpfs("store", 2048)
    db = store_fs / "studies.sqlite"
    Store(db).close()  # the store exists; then its file system is all but full
    fill(store_fs, leave=STORE_ROOM)
    out = tmp_path / "out"

    run = triage(images, random_package, db, out)

    assert run.returncode == EXIT_STOPPED, run.stderr
    line = one_line(run.stderr)
    assert "could not be written" in line and "full" in line and "StoreError" not in line
    document = json.loads((out / "worklist.json").read_text(encoding="utf-8"))
    listed, unfinished = len(document["studies"]), document["unfinished"]
    assert document["partial"] is True
    assert unfinished > 0 and listed + unfinished == IMAGES
    assert f"{unfinished} of {IMAGES} studies not scored" in line
    first = (out / "worklist.csv").read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# partial worklist") and f"{unfinished} studies" in first
    assert "stopped, partial" in run.stdout


@pytest.mark.parametrize("previous", [True, False], ids=["previous-worklist", "no-worklist"])
def test_a_full_output_folder_leaves_no_half_worklist_and_ends_with_one_line(
    mounts: Mounts, few: Path, random_package: Path, tmp_path: Path, previous: bool
):
    out = mounts.tmpfs("out", 64)
    old = {"worklist.csv": "rank,file\n", "worklist.json": '{"studies": []}\n'}
    if previous:
        for name, text in old.items():
            (out / name).write_text(text, encoding="utf-8")
    fill(out)

    run = triage(few, random_package, tmp_path / "studies.sqlite", out)

    assert run.returncode == EXIT_STOPPED, run.stderr
    line = one_line(run.stderr)
    assert "cannot write the worklist" in line and "No space left on device" in line
    left = sorted(p.name for p in out.iterdir())
    if previous:  # exactly as they were
        assert left == ["filler", "worklist.csv", "worklist.json"]
        assert {n: (out / n).read_text(encoding="utf-8") for n in old} == old
    else:  # no file at all, so no invalid one
        assert left == ["filler"]


def test_a_store_that_cannot_be_written_stops_with_one_line(
    mounts: Mounts, images: Path, random_package: Path, tmp_path: Path
):
    from inference.store import Store

    folder = mounts.tmpfs("store", 4096)
    db = folder / "studies.sqlite"
    Store(db).close()
    mounts.read_only(db)  # root ignores permission bits: the file itself is on a read-only mount
    out = tmp_path / "out"

    run = triage(images, random_package, db, out)

    assert run.returncode == EXIT_STOPPED, run.stderr
    line = one_line(run.stderr)
    assert "could not be written" in line and "readonly" in line
    document = json.loads((out / "worklist.json").read_text(encoding="utf-8"))
    assert document["partial"] is True and document["unfinished"] == IMAGES


def test_export_dicom_into_a_full_folder_leaves_no_half_object(
    mounts: Mounts, random_package: Path, tmp_path: Path
):
    source = tmp_path / "dicom"
    source.mkdir()
    (source / "a.dcm").write_bytes((SAMPLES / "DX_chest_NIH_google_1024_8bit.dcm").read_bytes())
    db = tmp_path / "studies.sqlite"
    assert triage(source, random_package, db, tmp_path / "worklist").returncode == 0
    out = mounts.tmpfs("export", 64)
    fill(out)

    run = cxr_triage("export-dicom", "--out", out, "--db", db, "--model", random_package, "--device", "cpu")

    assert run.returncode == EXIT_STOPPED, run.stderr
    assert "No space left on device" in one_line(run.stderr)
    assert [p.name for p in out.rglob("*") if p.is_file()] == ["filler"]


def test_an_atomic_write_on_a_full_disk_keeps_the_previous_file(mounts: Mounts):
    folder = mounts.tmpfs("small", 64)
    (folder / "a.png").write_bytes(b"previous")
    fill(folder)
    with pytest.raises(OSError) as raised:
        write_bytes_atomic(folder / "a.png", bytes(256 * 1024))
    assert raised.value.errno == errno.ENOSPC
    assert (folder / "a.png").read_bytes() == b"previous"
    assert sorted(p.name for p in folder.iterdir()) == ["a.png", "filler"]
