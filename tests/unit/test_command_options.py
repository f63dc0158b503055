"""The options of the commands that score are described once (inference/cli/commands/model_options.py):
pull runs triage's scoring and worklist on what it retrieves, so it takes every option triage takes;
listen scores with the same options; export-dicom and send draw with the same model."""

from __future__ import annotations

import argparse

import pytest

from inference.cli.main import build_parser

SCORING = {"model", "device", "tta", "precision", "backend", "batch_size"}


def options(command: str) -> set[str]:
    parser = build_parser(only=command)
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return {a.dest for a in sub.choices[command]._actions if a.option_strings and a.dest != "help"}


def test_pull_takes_every_option_triage_takes() -> None:
    assert options("triage") - options("pull") == set()


@pytest.mark.parametrize("command", ["triage", "pull", "listen"])
def test_the_scoring_commands_share_the_scoring_options(command: str) -> None:
    assert options(command) >= SCORING


@pytest.mark.parametrize("command", ["export-dicom", "send"])
def test_the_drawing_commands_load_the_model_with_the_scoring_defaults(command: str) -> None:
    parser = build_parser(only=command)
    args = parser.parse_args([command, *(["dicom://PACS@127.0.0.1:104"] if command == "send" else [])]
                             + (["--out", "x"] if command == "export-dicom" else []))  # fmt: skip
    assert {"model", "device"} <= options(command)
    assert (args.tta, args.precision, args.backend, args.batch_size) == ("none", "fp32", "auto", 8)
