"""``cxr-triage listen --port N``: a DICOM C-STORE (and C-ECHO) receiver. Every instance received is
kept in the inbox, recorded in the store and scored as it arrives (batched, through the engine),
until SIGINT or SIGTERM. An object that is not an image is kept and noted, never a crash.

Only associations calling ``--aet`` are accepted, and with ``--allow`` only from those calling AE
titles (and hosts); others are rejected at association, each with one line and an audit event."""

from __future__ import annotations

import argparse
import queue
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from inference.api import Status, StudyResult
from inference.cli.commands.common import add_db_argument, fail, positive_int, with_store
from inference.cli.commands.model_options import add_model_arguments
from inference.cli.commands.pacs_common import add_timeout_argument, fail_pacs, start_engine
from inference.io import read_header
from inference.pacs import PacsError
from inference.pacs.destinations import ae_title
from inference.pacs.dimse import OWN_AE_TITLE, Access, Peer, Receiver
from inference.store.location import INBOX, beside_store
from inference.text import terminal_safe

if TYPE_CHECKING:
    from inference.pacs.dimse import Rejection
    from inference.runtime.engine import Engine, Event
    from inference.store import Store

POLL_S = 0.5  # how often the loop looks for a stop request while idle
AUDIT_REJECTED = "association-rejected"


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
    add_model_arguments(p, operating_point=False)
    add_timeout_argument(p)
    add_db_argument(p)
    p.set_defaults(func=run)


def port_number(text: str) -> int:
    value = positive_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"a port is at most 65535, got {value}")
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
    try:
        access = Access(args.aet, args.allow)  # resolves the --allow hosts, once, before the model loads
    except PacsError as exc:
        return fail_pacs(str(exc))
    events: queue.Queue[Event] = queue.Queue()
    engine, info = start_engine(args, store, events.put)
    receiver = Receiver(inbox, args.port, args.aet, args.bind, args.timeout, access, _rejected(store))
    try:
        if isinstance(info, str):
            return fail(info)
        receiver.start()
    except PacsError as exc:
        engine.shutdown()
        return fail_pacs(str(exc))
    print(
        f"Listening as {args.aet} on {args.bind}:{args.port} (model {info.card.name} {info.card.version}); "
        f"inbox {inbox}; {access.describe()}. Ctrl+C or SIGTERM stops.",
        flush=True,
    )
    with _stop_on_signals() as stop:
        try:
            while not stop.is_set():
                _score_arrivals(_take(receiver, POLL_S), engine, events)
        finally:
            receiver.stop()
            _score_arrivals(_take(receiver, 0), engine, events)  # what arrived while stopping
            engine.shutdown()
    print("Stopped.", flush=True)
    return 0


def _rejected(store: Store) -> Callable[[Rejection], None]:
    """What the listener does with a rejected association (on its thread): one line and an audit event."""

    def note(rejection: Rejection) -> None:
        print(f"cxr-triage: {terminal_safe(str(rejection))}", file=sys.stderr, flush=True)
        store.log(
            AUDIT_REJECTED,
            calling_ae_title=rejection.calling_ae_title,
            called_ae_title=rejection.called_ae_title,
            peer_address=rejection.peer_address,
            reason=rejection.reason_text,
        )

    return note


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


def _score_arrivals(paths: list[Path], engine: Engine, events: queue.Queue[Event]) -> None:
    """Record and score one batch of received files, reporting each study; waits for the job."""
    from inference.runtime.engine import follow  # runtime.engine: not at parser build time

    if not paths:
        return
    entries = [read_header(p) for p in paths]
    for entry in entries:
        if entry.status is Status.ERROR:
            print(f"kept, not scored: {terminal_safe(entry.meta.path.name)}: {terminal_safe(entry.reason)}")
    error = follow(engine.score(entries, len({e.meta.study_uid for e in entries})), events, _report)
    if error:
        print(f"cxr-triage: scoring stopped: {terminal_safe(error)}", file=sys.stderr)


def _report(result: StudyResult) -> None:
    probabilities = result.probabilities
    if result.status is Status.SCORED and probabilities:
        top = max(probabilities, key=lambda name: probabilities[name])
        print(f"{result.study_uid}: scored; highest {top} {probabilities[top]:.2f}", flush=True)
    else:
        print(f"{result.study_uid}: {result.status.value}: {terminal_safe(result.reason)}", flush=True)
