"""The model-owner thread runs below the caller's priority, so the GUI thread gets a core first."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from inference.runtime.engine import BACKGROUND_NICENESS, Engine


def _nice() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a thread's nice value is Linux-only")
def test_the_model_thread_and_the_threads_it_starts_run_at_a_lower_priority():
    engine = Engine()
    try:

        def probe(_service):
            seen = {"owner": _nice()}
            child = threading.Thread(target=lambda: seen.update(child=_nice()))
            child.start()
            child.join()
            return seen

        seen = engine.run_task(probe).result(timeout=30)
    finally:
        engine.shutdown()
    expected = min(19, _nice() + BACKGROUND_NICENESS)
    assert seen == {"owner": expected, "child": expected}
    assert _nice() < expected  # the caller (the GUI thread) keeps its own priority
