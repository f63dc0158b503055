"""Workers and the model-owner thread: queued delivery, cooperative cancel, one owner, clean exit."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
from viewer_fakes import FakeService, entry, fake_image, fake_scorer

from viewer.qt.model_thread import ModelThread
from viewer.qt.workers import FunctionWorker, GeneratorWorker, WorkerPool


def test_function_worker_returns_on_the_gui_thread(qtbot):
    pool = WorkerPool()
    worker = FunctionWorker(lambda x: (x * 2, threading.get_ident()), 21)
    got = []
    worker.signals.returned.connect(got.append)
    with qtbot.waitSignal(worker.signals.finished, timeout=3000):
        pool.start(worker)
    qtbot.waitUntil(lambda: bool(got), timeout=3000)
    value, ident = got[0]
    assert value == 42 and ident != threading.get_ident()
    assert pool.shutdown()


def test_function_worker_reports_errors(qtbot):
    pool = WorkerPool()
    worker = FunctionWorker(lambda: 1 / 0)
    with qtbot.waitSignal(worker.signals.errored, timeout=3000) as blocker:
        pool.start(worker)
    assert isinstance(blocker.args[0], ZeroDivisionError)
    assert pool.shutdown()


def test_generator_worker_cancels_cooperatively(qtbot):
    pool = WorkerPool()
    gate = threading.Event()
    seen = []

    def slow(cancelled):
        for i in range(1000):
            if cancelled():
                return
            gate.wait(0.01)
            yield i

    worker = GeneratorWorker(slow, pass_cancelled=True)
    worker.signals.yielded.connect(seen.append)
    pool.start(worker)
    qtbot.waitUntil(lambda: len(seen) >= 2, timeout=3000)
    worker.quit()
    assert pool.shutdown(5000)
    assert len(seen) < 1000 and worker.is_done


def scan_entries(n: int):
    return [entry(i) for i in range(n)]


def test_model_thread_scores_explains_on_one_thread_and_shuts_down(qtbot):
    service = FakeService()
    mt = ModelThread(loader=lambda p, d: service, scorer=fake_scorer(fake_image), batch_size=3)
    try:
        with qtbot.waitSignal(mt.signals.loaded, timeout=3000) as loaded:
            mt.load(Path("x"))
        assert loaded.args[0].card.name == "fake-model"
        results = []
        mt.signals.scored.connect(lambda job, r: results.append(r))
        with qtbot.waitSignal(mt.signals.scoringFinished, timeout=5000) as done:
            job = mt.score(scan_entries(10), 10)
        assert done.args == [job, False, ""]
        assert len(results) == 10
        image = fake_image(Path("/data/study00001.dcm"))
        with qtbot.waitSignal(mt.signals.explained, timeout=3000) as explained:
            mt.explain("k", image, "Effusion")
        key, heatmap = explained.args
        assert key == "k" and heatmap.values.shape == image.pixels.shape
        assert not np.shares_memory(heatmap.values, image.pixels)
        assert service.threads == {mt.owner_ident}
    finally:
        assert mt.shutdown(10)


def test_model_thread_cancel_and_replace(qtbot):
    service = FakeService(delay=0.02)
    mt = ModelThread(loader=lambda p, d: service, scorer=fake_scorer(fake_image), batch_size=2)
    try:
        mt.load(Path("x"))
        finished = []
        mt.signals.scoringFinished.connect(lambda *a: finished.append(a))
        first = mt.score(scan_entries(200), 200)
        second = mt.score(scan_entries(4), 4)  # replaces the first
        qtbot.waitUntil(lambda: len(finished) == 2, timeout=5000)
        assert (first, True, "") in finished and (second, False, "") in finished
        third = mt.score(scan_entries(200), 200)
        mt.cancel_scoring()
        qtbot.waitUntil(lambda: len(finished) == 3, timeout=5000)
        assert finished[-1] == (third, True, "")
    finally:
        assert mt.shutdown(10)


def test_scoring_without_a_model_reports_it(qtbot):
    mt = ModelThread(loader=lambda p, d: 1 / 0, scorer=fake_scorer(fake_image))
    try:
        with qtbot.waitSignal(mt.signals.loadFailed, timeout=3000) as failed:
            mt.load(Path("x"))
        assert "ZeroDivisionError" in failed.args[0]
        with qtbot.waitSignal(mt.signals.scoringFinished, timeout=3000) as done:
            mt.score(scan_entries(2), 2)
        assert done.args[2] == "no model loaded"
    finally:
        assert mt.shutdown(10)
