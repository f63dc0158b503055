"""``cxr-triage listen --port N``: a DICOM C-STORE (and C-ECHO) receiver. Every instance received is
kept in the inbox, recorded in the store and scored as it arrives (batched, through the engine),
until SIGINT or SIGTERM. An object that is not an image is kept and noted, never a crash.

Only associations calling ``--aet`` are accepted, and with ``--allow`` only from those calling AE
titles (and hosts); others are rejected at association, each with one line and an audit event. Each
association accepted is audited too.

With ``--tls-cert`` it speaks DICOM TLS only (PS3.15 Annex B; TLS 1.2 or newer), and with ``--tls-ca``
every sender must present a client certificate that CA signed: a plain association, a sender without
such a certificate, or a handshake that does not finish within ``--timeout`` is refused before any
association request is read, with one line and an ``association-rejected`` event.

While the inbox's file system has less than ``--min-free-gb`` free, every instance is refused with
status 0xA700 (out of resources): one line and one audit event when it drops below the floor, and
again when storing resumes (by itself, once space is freed).

While the store cannot be written (a team store's server restarting), what arrives is kept in the
inbox and recorded and scored once it can be (:mod:`listen_backlog`); listen goes on receiving."""

from __future__ import annotations

import argparse
import queue
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from inference.api import Status, StudyResult
from inference.cli.commands.common import add_db_argument, fail, parsed, positive_int, with_store
from inference.cli.commands.listen_backlog import Backlog
from inference.cli.commands.model_options import add_model_arguments
from inference.cli.commands.pacs_common import (
    add_dicom_tls_arguments,
    add_timeout_argument,
    dicom_tls,
    fail_pacs,
    start_engine,
)
from inference.io import read_header
from inference.pacs import PacsError
from inference.pacs.destinations import ae_title
from inference.pacs.dicom_tls import PLAIN
from inference.pacs.dimse import OWN_AE_TITLE, Access, Peer, Receiver
from inference.store import StoreError
from inference.store.location import INBOX, beside_store
from inference.text import terminal_safe

if TYPE_CHECKING:
    from inference.pacs.dicom_tls import DicomTls
    from inference.pacs.dimse import Accepted, Rejection, TlsRefusal
    from inference.runtime.engine import Engine, Event
    from inference.store import Store

POLL_S = 0.5  # how often the loop looks for a stop request while idle
AUDIT_REJECTED = "association-rejected"
AUDIT_ACCEPTED = "association-accepted"
AUDIT_FLOOR = "disk-floor-reached"  # instances refused (0xA700) from now on
AUDIT_RESUMED = "disk-floor-cleared"  # storing again
DEFAULT_MIN_FREE_GB = 5.0
GB = 1e9


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("listen", help="receive studies over DICOM (C-STORE) and score them as they arrive")
    p.add_argument("--port", type=port_number, required=True, help="TCP port to listen on")
    p.add_argument("--aet", type=aet, default=OWN_AE_TITLE, help=f"our AE title (default {OWN_AE_TITLE})")
    p.add_argument("--bind", default="0.0.0.0", metavar="ADDRESS", help="address to listen on (default: all)")
    p.add_argument(
        "--allow",
        type=peer,
        action="append",
        default=[],
        metavar="AET[@HOST]",
        help="accept associations only from this calling AE title (from HOST only, when given: an address "
        "or a name, resolved at start); repeatable. Default: any calling AE title",
    )
    p.add_argument(
        "--inbox",
        type=Path,
        default=None,
        metavar="DIR",
        help=f"received files (default: {INBOX}/ next to the store)",
    )
    p.add_argument(
        "--min-free-gb",
        type=gigabytes,
        default=DEFAULT_MIN_FREE_GB,
        metavar="N",
        help="refuse instances (status 0xA700, out of resources) while the inbox's file system has less "
        f"than N GB free; storing resumes once there is (default {DEFAULT_MIN_FREE_GB:g}; 0: never refuse)",
    )
    add_dicom_tls_arguments(p)
    add_model_arguments(p, operating_point=False)
    add_timeout_argument(p)
    add_db_argument(p)
    p.set_defaults(func=run)


def port_number(text: str) -> int:
    value = positive_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"a port is at most 65535, got {value}")
    return value


def gigabytes(text: str) -> float:
    """argparse type: a number of gigabytes (10^9 bytes) >= 0, fractions allowed."""
    value = parsed(text, float, "a number of gigabytes")
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number of gigabytes >= 0, got {text}")
    return value


def aet(text: str) -> str:
    try:
        return ae_title(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def peer(text: str) -> Peer:
    try:
        return Peer.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    return with_store(args.db, lambda store: _listen(args, store))


def _listen(args: argparse.Namespace, store: Store) -> int:
    inbox = args.inbox or beside_store(INBOX, args.db)
    tls = dicom_tls(args, server=True)  # its files read now: a bad one stops it before the model loads
    if isinstance(tls, str):
        return fail(tls)
    try:
        access = Access(args.aet, args.allow)  # resolves the --allow hosts, once, before the model loads
    except PacsError as exc:
        return fail_pacs(str(exc))
    events: queue.Queue[Event] = queue.Queue()
    engine, info = start_engine(args, store, events.put)
    receiver = Receiver(
        inbox, args.port, args.aet, args.bind, args.timeout, access, _rejected(store), _accepted(store),
        min_free_bytes=int(args.min_free_gb * GB), on_space=_space(store, args.min_free_gb),
        tls=tls, on_tls_refused=_tls_refused(store),
    )  # fmt: skip
    try:
        if isinstance(info, str):
            return fail(info)
        receiver.start()
    except PacsError as exc:
        engine.shutdown()
        return fail_pacs(str(exc))
    print(
        f"Listening as {args.aet} on {args.bind}:{args.port} (model {info.card.name} {info.card.version}); "
        f"inbox {inbox} (refusing instances below {args.min_free_gb:g} GB free); {access.describe()}; "
        f"{_tls_description(tls)}. "
        "Ctrl+C or SIGTERM stops.",
        flush=True,
    )
    backlog = Backlog(inbox)
    with _stop_on_signals() as stop:
        try:
            while not stop.is_set():
                arrived = _take(receiver, POLL_S)
                if arrived or backlog.due():
                    tried = backlog.take() + arrived
                    backlog.settle(tried, *_score_arrivals(tried, engine, events))
        finally:
            receiver.stop()
            tried = backlog.take() + _take(receiver, 0)  # and what arrived while stopping
            backlog.settle(tried, *_score_arrivals(tried, engine, events))
            backlog.say_left()
            engine.shutdown()
    print("Stopped.", flush=True)
    return 0


def _rejected(store: Store) -> Callable[[Rejection], None]:
    """What the listener does with a rejected association (on its thread): one line and an audit event."""

    def note(rejection: Rejection) -> None:
        print(f"cxr-triage: {terminal_safe(str(rejection))}", file=sys.stderr, flush=True)
        _audit(store, AUDIT_REJECTED, **_association(rejection), reason=rejection.reason_text)

    return note


def _tls_refused(store: Store) -> Callable[[TlsRefusal], None]:
    """A connection the DICOM TLS listener refused before any association request: one line and an
    ``association-rejected`` event (no AE titles: none was read)."""

    def note(refusal: TlsRefusal) -> None:
        _audit(
            store,
            AUDIT_REJECTED,
            calling_ae_title="",
            called_ae_title="",
            peer_address=refusal.peer_address,
            tls="no" if refusal.reason == PLAIN else "failed",
            reason=refusal.reason,
        )
        print(f"cxr-triage: {terminal_safe(str(refusal))}", file=sys.stderr, flush=True)  # once audited

    return note


def _association(association: Accepted | Rejection) -> dict[str, str]:
    """An association's audit fields: who called whom from where, ``tls`` ("yes"/"no") and, over TLS,
    the CN of the peer's certificate ("" if none)."""
    tls = {"tls": "yes", "peer_certificate_cn": association.peer_name} if association.tls else {"tls": "no"}
    return {
        "calling_ae_title": association.calling_ae_title,
        "called_ae_title": association.called_ae_title,
        "peer_address": association.peer_address,
    } | tls


def _tls_description(tls: DicomTls | None) -> str:
    """For the start-up line."""
    if tls is None:
        return "plain DICOM (no TLS)"
    if tls.ca_file is None:
        return "DICOM TLS only, no client certificate asked"
    return f"DICOM TLS only, client certificates signed by {tls.ca_file} required"


def _accepted(store: Store) -> Callable[[Accepted], None]:
    """An audit event per association accepted (who, from where, whether over TLS; no password)."""

    def note(accepted: Accepted) -> None:
        _audit(store, AUDIT_ACCEPTED, **_association(accepted))

    return note


def _space(store: Store, floor_gb: float) -> Callable[[bool, int], None]:
    """One line and one audit event each time the inbox's free space crosses the floor."""

    def note(room: bool, free: int) -> None:
        free_gb = round(free / GB, 3)
        if room:
            print(f"cxr-triage: {free_gb:g} GB free in the inbox again: storing instances", file=sys.stderr)
        else:
            print(
                f"cxr-triage: only {free_gb:g} GB free in the inbox (floor {floor_gb:g} GB): refusing "
                "instances (status 0xA700, out of resources) until space is freed; see cxr-triage purge",
                file=sys.stderr,
                flush=True,
            )
        _audit(store, AUDIT_RESUMED if room else AUDIT_FLOOR, free_gb=free_gb, floor_gb=floor_gb)

    return note


def _audit(store: Store, action: str, **detail: Any) -> None:
    """An audit event from the listener's threads; a store that cannot take it says so on stderr (the
    association goes on)."""
    try:
        store.log(action, **detail)
    except StoreError as exc:
        print(f"cxr-triage: {terminal_safe(str(exc))}", file=sys.stderr, flush=True)


@contextmanager
def _stop_on_signals() -> Iterator[threading.Event]:
    """An event set by SIGINT or SIGTERM (the previous handlers come back afterwards)."""
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _take(receiver: Receiver, wait: float) -> list[Path]:
    """Every path received so far, waiting up to ``wait`` seconds for the first."""
    try:
        paths = [receiver.arrivals.get(timeout=wait) if wait else receiver.arrivals.get_nowait()]
    except queue.Empty:
        return []
    while True:
        try:
            paths.append(receiver.arrivals.get_nowait())
        except queue.Empty:
            return paths


def _score_arrivals(paths: list[Path], engine: Engine, events: queue.Queue[Event]) -> tuple[str, bool]:
    """Record and score one batch of received files, reporting each study; waits for the job. Returns
    why it failed ("" when it did not) and whether the store was why."""
    from inference.runtime.engine import follow_job  # runtime.engine: not at parser build time

    if not paths:
        return "", False
    entries = [read_header(p) for p in paths]
    for entry in entries:
        if entry.status is Status.ERROR:
            print(f"kept, not scored: {terminal_safe(entry.meta.path.name)}: {terminal_safe(entry.reason)}")
    finished = follow_job(engine.score(entries, len({e.meta.study_uid for e in entries})), events, _report)
    return (finished.error, finished.store_failed) if finished is not None else ("", False)


def _report(result: StudyResult) -> None:
    probabilities = result.probabilities
    if result.status is Status.SCORED and probabilities:
        top = max(probabilities, key=lambda name: probabilities[name])
        print(f"{result.study_uid}: scored; highest {top} {probabilities[top]:.2f}", flush=True)
    else:
        print(f"{result.study_uid}: {result.status.value}: {terminal_safe(result.reason)}", flush=True)
