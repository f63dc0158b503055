"""The split scan (no Ray needed: units are scanned here) gives exactly ``scan``'s rows, in its order;
``cxr-triage --help`` and parsing ``batch`` never import Ray."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from inference.bundled import SAMPLES
from inference.cluster.scan import merge, plan_units, scan_unit
from inference.io import scan


def _split_scan(paths: list[Path], exclude: list[Path]) -> list:
    units = plan_units(paths, exclude)
    return merge(paths, units, [scan_unit(unit) for unit in units])


def test_split_scan_equals_scan_in_rows_and_order(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    for place in ("z.png", "a/b/c/deep.png", "a/b.png", "a/b/x.png", "m/n.png", "m.png"):
        (root / place).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SAMPLES / "IM-0115-0001.jpeg", (root / place).with_suffix(".jpeg"))
    (root / "empty" / "inner").mkdir(parents=True)
    (root / "a" / "README.txt").write_text("skipped")
    (root / "a" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (root / ".hidden").mkdir()
    shutil.copyfile(SAMPLES / "IM-0115-0001.jpeg", root / ".hidden" / "h.jpeg")
    out = root / "out"
    shutil.copytree(root / "m", out)
    nothing = tmp_path / "nothing"
    (nothing / "sub").mkdir(parents=True)
    single = SAMPLES / "16747_3_1.jpg"
    paths = [root, nothing, single, tmp_path / "missing.png"]

    assert len(plan_units(paths, [out])) > len(paths)  # the archive really was split
    expected = list(scan(paths, exclude=[out]))
    assert [(e.meta.path, e.status, e.reason) for e in _split_scan(paths, [out])] == [
        (e.meta.path, e.status, e.reason) for e in expected
    ]
    assert any(e.meta.path == nothing and e.reason for e in expected)  # the named empty folder's row


def test_help_and_parsing_batch_never_import_ray() -> None:
    code = (
        "import sys\nfrom inference.cli.main import build_parser, parse\nbuild_parser()\n"
        "parse(['batch', 'x', '--ray', '127.0.0.1:1', '--workers', '2'])\n"
        "print('ray' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == "False"
