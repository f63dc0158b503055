"""How the viewer says a number of things: its name, "1 study", "2 studies"."""

from __future__ import annotations

APP_NAME = "CXR Triage"


def counted(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def studies(n: int) -> str:
    return counted(n, "study", "studies")


def files(n: int) -> str:
    return counted(n, "file", "files")
