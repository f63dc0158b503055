"""The viewer's store thread (issue #23, viewer items 2 and 5): calls run in the order asked, off the
GUI thread; a call the server could not take is kept, with every later one, and asked again until it
answers; a failing answer never holds up the calls after it."""

from __future__ import annotations

import threading

import psycopg

from inference.store import StoreError
from viewer.qt.store_worker import StoreWorker


class Log:
    """A stand-in store: the calls record their thread; ``refusals`` first calls fail as a server away."""

    def __init__(self, refusals: int = 0) -> None:
        self.threads: list[threading.Thread] = []
        self.refusals = refusals
        self.closed = False

    def close(self) -> None:
        self.closed = True


def call(name: str, done: list[str]):
    def work(store: Log) -> str:
        store.threads.append(threading.current_thread())
        if name == "write" and store.refusals:
            store.refusals -= 1
            try:
                raise psycopg.OperationalError("connection refused")
            except psycopg.OperationalError as exc:
                raise StoreError("cannot open the team store") from exc
        done.append(name)
        return name

    return work


def test_calls_run_in_order_off_the_gui_thread_and_a_failing_answer_holds_nothing_up(qtbot):
    store, done, answers = Log(), [], []
    worker = StoreWorker(store)  # type: ignore[arg-type]

    def fails(_answer: str) -> None:
        raise RuntimeError("a slot that fails")

    with qtbot.captureExceptions() as raised:
        worker.submit(call("a", done), fails)
        worker.submit(call("b", done), answers.append)
        worker.submit(call("c", done), answers.append)
        qtbot.waitUntil(lambda: worker.pending == 0, timeout=5000)
    assert done == ["a", "b", "c"] and answers == ["b", "c"] and len(raised) == 1
    assert threading.main_thread() not in store.threads
    assert worker.close() == 0 and store.closed


def test_a_call_the_server_could_not_take_is_kept_and_asked_again_in_order(qtbot):
    store, done = Log(refusals=2), []
    worker = StoreWorker(store, retry_ms=50)  # type: ignore[arg-type]
    lost: list[str] = []
    back: list[bool] = []
    worker.serverLost.connect(lost.append)
    worker.serverBack.connect(lambda: back.append(True))
    worker.submit(call("write", done))
    worker.submit(call("after", done))
    qtbot.waitUntil(lambda: worker.pending == 0, timeout=5000)
    assert done == ["write", "after"]  # once each, in order
    assert len(lost) == 1 and back == [True]  # said once, and once back
    worker.close()
