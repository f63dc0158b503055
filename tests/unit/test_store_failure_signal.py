"""A scoring job that stopped because the store could not be read or written says so by its kind, not
by the words of its message: the engine's ``ScoringFinished`` carries ``store_failed``, and listen
keeps its received files for later on that signal only."""

from __future__ import annotations

import queue
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from inference.bundled import DEMO_MODEL
from inference.cli.commands.listen_backlog import Backlog
from inference.models.card import read_card
from inference.runtime.engine import Engine, Event, ScoringFinished, follow_job
from inference.store import StoreError

LOOKS_LIKE_THE_STORE = "StoreError: a message that only reads like the store's"


class Service:
    """A loaded model that is never asked to score: the scorer fails first."""

    device, precision, backend, gate = "cpu", "fp32", "none", None

    def __init__(self) -> None:
        self.card = read_card(DEMO_MODEL)

    def prepare(self, image):
        raise AssertionError("not scored")

    predict = explain = prepare


def failing_scorer(exc: Exception) -> Callable[..., Iterator[object]]:
    def scorer(entries, service, **kwargs) -> Iterator[object]:
        raise exc
        yield  # a generator, as the engine's scorer is

    return scorer


def finished_with(exc: Exception) -> ScoringFinished:
    events: queue.Queue[Event] = queue.Queue()
    engine = Engine(events.put, loader=lambda package, device: Service(), scorer=failing_scorer(exc))
    try:
        engine.load(DEMO_MODEL).result(timeout=60)
        finished = follow_job(engine.score([], 0), events, lambda result: None, idle_timeout=60)
    finally:
        engine.shutdown()
    assert finished is not None
    return finished


def test_a_job_the_store_stopped_is_reported_as_a_store_failure() -> None:
    finished = finished_with(StoreError("the team store db on host:5432 could not be written: gone"))
    assert finished.store_failed
    assert "could not be written" in finished.error


def test_another_failure_is_not_a_store_failure_whatever_its_message_says() -> None:
    finished = finished_with(ValueError(LOOKS_LIKE_THE_STORE))
    assert not finished.store_failed
    assert finished.error


@pytest.mark.parametrize("store_failed", [True, False])
def test_listen_keeps_the_files_for_a_store_failure_only(tmp_path: Path, store_failed: bool) -> None:
    backlog = Backlog(tmp_path)
    tried = [tmp_path / "a.dcm", tmp_path / "b.dcm"]
    backlog.settle(tried, LOOKS_LIKE_THE_STORE, store_failed=store_failed)
    assert len(backlog) == (2 if store_failed else 0)
