"""What ``next`` and ``claim`` share: the lease option and how a claim is said."""

from __future__ import annotations

import argparse

from inference.cli.commands.common import parsed
from inference.store import LEASE_S, Claim
from inference.text import terminal_safe


def lease_minutes(text: str) -> float:
    """argparse type: a positive number of minutes, as seconds."""
    value = parsed(text, float, "minutes")
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of minutes, got {text}")
    return value * 60


def add_lease_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--lease", type=lease_minutes, default=LEASE_S, metavar="MINUTES",
        help=f"how long the claim holds unless renewed (default: {LEASE_S / 60:g}); a reader whose"
        " process ends loses it then",
    )  # fmt: skip


def said(claim: Claim) -> str:
    """One line: who holds the study until when."""
    who = "claimed by you" if claim.mine else "being read by"
    holder = "" if claim.mine else f" {terminal_safe(claim.holder)}"
    return f"{terminal_safe(claim.study_uid)}: {who}{holder} until {claim.expires}"


def as_json(claim: Claim) -> dict[str, object]:
    return {
        "study_uid": claim.study_uid,
        "holder": claim.holder,
        "expires": claim.expires,
        "mine": claim.mine,
    }
