"""The installed package (pyproject.toml) depends on everything the pinned runtime (requirements.txt)
installs: a wheel built without one of them fails at run time, not at install time."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_every_pinned_runtime_package_is_a_dependency_of_the_wheel():
    lines = (REPO / "requirements.txt").read_text(encoding="utf-8").splitlines()
    pinned = {_name(line) for line in lines if line.strip() and not line.startswith(("#", "-"))}
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = {_name(dep) for dep in project["dependencies"]}
    assert pinned - declared == set()
