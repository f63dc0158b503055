"""The PACS link's Test fails fast, without Qt: a refused connection and a host that never completes
the TCP handshake both give "cannot reach", for C-ECHO and for DICOMweb's test query; the refused one
without retrying. Each echo runs on a thread joined with a generous bound (no timed assertion)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from inference.pacs import PacsError, parse_destination
from inference.pacs.transfer import echo

BOUND_S = 10.0  # the old 30 s timeouts fail this; the new ones are well inside it


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def silent_port() -> Iterator[int]:
    """A listener that never accepts, its one-place backlog taken: further SYNs are dropped."""
    with socket.socket() as listener, socket.socket() as taken:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        taken.connect(("127.0.0.1", port))
        yield port


def failure_within(bound_s: float, call: Callable[[], None]) -> str:
    said: list[str] = []

    def run() -> None:
        try:
            call()
        except PacsError as exc:
            said.append(str(exc))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(bound_s)
    assert not thread.is_alive(), f"no answer within {bound_s} s"
    assert said, "it answered"
    return said[0]


ADDRESSES = {"dimse": "dicom://NOBODY@127.0.0.1:{}", "dicomweb": "http://127.0.0.1:{}/dicom-web"}


@pytest.mark.parametrize("kind", list(ADDRESSES))
def test_a_refused_connection_is_reported_as_cannot_reach(kind: str):
    node = parse_destination(ADDRESSES[kind].format(free_port()))
    assert failure_within(BOUND_S, lambda: echo(node)).startswith("cannot reach")


@pytest.mark.parametrize("kind", list(ADDRESSES))
def test_a_host_that_never_answers_is_reported_after_the_connect_timeout(kind: str):
    with silent_port() as port:
        node = parse_destination(ADDRESSES[kind].format(port))
        said = failure_within(BOUND_S, lambda: echo(node))
    assert said.startswith("cannot reach") and "s to connect" in said


def test_the_test_query_is_tried_once():
    """A DICOMweb test whose connection fails is not retried (retries, 0.5 and 1 s apart, are for
    queries and transfers to a busy PACS): a server that hangs up on every connection sees one."""
    connections: list[object] = []
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)

        def hang_up() -> None:
            while True:
                try:
                    conn, _ = server.accept()
                except OSError:
                    return
                connections.append(conn)
                conn.close()

        threading.Thread(target=hang_up, daemon=True).start()
        node = parse_destination(f"http://127.0.0.1:{server.getsockname()[1]}/dicom-web")
        failure_within(BOUND_S, lambda: echo(node))
    assert len(connections) == 1
