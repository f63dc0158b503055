"""The installed package (pyproject.toml) declares everything each pinned profile installs: the reading
station (requirements.txt) as its dependencies, the training stack and the cluster as its extras
``[train]`` and ``[cluster]``. A wheel built without one of them fails at run time, not at install time;
and the reading station never pulls the training stack."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
TRAINING_STACK = {"torch", "torchvision", "captum", "timm", "ray"}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def pinned(file: str) -> set[str]:
    """The packages a requirements file pins itself (not those of the files it includes)."""
    lines = (REPO / file).read_text(encoding="utf-8").splitlines()
    return {_name(line) for line in lines if line.strip() and not line.startswith(("#", "-"))}


def test_every_pinned_reading_station_package_is_a_dependency_of_the_wheel():
    declared = {_name(dep) for dep in PROJECT["dependencies"]}
    assert pinned("requirements.txt") - declared == set()


@pytest.mark.parametrize("extra", ["train", "cluster"])
def test_every_pinned_extra_is_declared(extra):
    declared = {_name(dep) for dep in PROJECT["optional-dependencies"][extra]}
    assert pinned(f"requirements-{extra}.txt") - declared == set()


def test_the_reading_station_needs_no_training_stack():
    assert pinned("requirements.txt") & TRAINING_STACK == set()
    assert {_name(dep) for dep in PROJECT["dependencies"]} & TRAINING_STACK == set()
