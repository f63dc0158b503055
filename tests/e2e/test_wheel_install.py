"""A wheel built from the repository carries the demo model and the sample studies: installed in a
fresh virtual environment outside the repository, ``cxr-triage triage`` scores its own samples."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# Left out of the copy the wheel is built from: git metadata and what .gitignore lists (a stale build/lib
# would otherwise end up in the wheel).
NOT_SOURCES = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", "runs", "out"
)
PROBE = (
    "import json, inference, inference.bundled as b; "
    "print(json.dumps([inference.__file__, str(b.DEMO_MODEL), str(b.SAMPLES)]))"
)


def run(*command: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run offline, without this interpreter's PYTHONPATH or the user's site-packages leaking in."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env |= {"PYTHONNOUSERSITE": "1", "PIP_NO_INDEX": "1", "CXR_TRIAGE_HOME": str(cwd / "home")}
    out = subprocess.run(
        [str(c) for c in command], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, f"{command}\n{out.stdout}\n{out.stderr}"
    return out


def build_wheel(tmp_path: Path) -> Path:
    """``pip wheel`` on a copy of the working tree, so that the repository gets no build/ folder."""
    source = tmp_path / "source"
    shutil.copytree(REPO, source, ignore=NOT_SOURCES)
    pip_wheel = (sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", "dist")
    run(*pip_wheel, source, cwd=tmp_path)
    (wheel,) = (tmp_path / "dist").glob("cxr_triage-*.whl")
    return wheel


def install(wheel: Path, venv: Path, cwd: Path) -> None:
    """A bare venv with the wheel, then this environment's packages (torch, Qt...) made visible by a
    ``.pth`` line. Paths named in a ``.pth`` file are not scanned for ``.pth`` files of their own, so
    the editable install of the checkout (``__editable__*.pth``) stays out of the new venv."""
    run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=cwd)
    python = venv / "bin" / "python"
    run(sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", wheel, cwd=cwd)
    site = run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=cwd)
    deps = dict.fromkeys(sysconfig.get_paths()[key] for key in ("purelib", "platlib"))
    (Path(site.stdout.strip()) / "cxr_triage_test_deps.pth").write_text("\n".join(deps) + "\n")


def packages(inits: list[Path]) -> set[str]:
    """Dotted package names from ``__init__.py`` paths relative to the repository or wheel root."""
    return {".".join(init.parent.parts) for init in inits if "__pycache__" not in init.parts}


def check_contents(names: list[str]) -> None:
    """Every code package of the checkout, the demo package without its training extras, the licenses."""
    tops = (REPO / "inference", REPO / "viewer")
    in_checkout = [init.relative_to(REPO) for top in tops for init in top.rglob("__init__.py")]
    missing = packages(in_checkout) - packages([Path(n) for n in names if n.endswith("/__init__.py")])
    assert not missing, f"add to [tool.setuptools] packages in pyproject.toml: {sorted(missing)}"
    model = "inference/_bundle/models/cxr-demo-densenet121/"
    assert {n.removeprefix(model) for n in names if n.startswith(model)} == {
        "model.safetensors",
        "model.onnx",
        "card.json",
        "card.md",
        "gate.npz",
    }
    assert "inference/_bundle/resources/samples/README.md" in names  # the samples' sources and licenses


@pytest.mark.slow
def test_wheel_installs_outside_the_checkout_and_triages_its_bundled_samples(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path)
    with zipfile.ZipFile(wheel) as archive:
        check_contents(archive.namelist())

    venv, work = tmp_path / "venv", tmp_path / "work"
    work.mkdir()
    install(wheel, venv, work)
    probe = run(venv / "bin" / "python", "-c", PROBE, cwd=work)
    package_file, demo_model, samples = (Path(p).resolve() for p in json.loads(probe.stdout))
    for path in (package_file, demo_model, samples):
        assert path.is_relative_to(venv.resolve()) and not path.is_relative_to(REPO), path

    run(venv / "bin" / "cxr-triage", "triage", samples, "--out", work / "out", cwd=work)
    with open(work / "out" / "worklist.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert sum(row["status"] == "scored" for row in rows) >= 5
    assert all(row["top_finding"] for row in rows if row["status"] == "scored")
