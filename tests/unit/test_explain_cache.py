"""Explaining several findings of one image costs one read, one input preparation and one network pass."""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np

from inference.io import read_image
from inference.runtime import network_input
from inference.runtime.engine import Engine
from inference.runtime.service import load_service


def _radiograph(path: Path) -> Path:
    pixels = (np.random.default_rng(0).random((300, 260)) * 255).astype(np.uint8)
    cv2.imwrite(str(path), cv2.GaussianBlur(pixels, (9, 9), 3))
    return path


def test_findings_of_the_same_file_reuse_its_read_and_its_pass(random_package, monkeypatch, tmp_path):
    reads, passes = [], []
    real_read = network_input.read_for_network
    monkeypatch.setattr(network_input, "read_for_network", lambda *a: reads.append(1) or real_read(*a))
    engine = Engine(loader=lambda package, device: load_service(package, device, backend="torch"))
    try:
        engine.load(random_package, "cpu").result(timeout=120)
        hook = lambda service: service._model.features.register_forward_hook(lambda *_: passes.append(1))  # noqa: E731
        engine.run_task(hook).result(timeout=60)
        image = read_image(_radiograph(tmp_path / "a.png"))
        labels = [lab.name for lab in engine.info.card.labels][:3]
        maps = [engine.explain(image, label).result(timeout=60) for label in labels]
        assert (len(reads), len(passes)) == (1, 1)
        assert not np.array_equal(maps[0].values, maps[1].values)  # each finding its own map
        assert maps[0].values.shape == image.pixels.shape

        _radiograph(tmp_path / "b.png")
        engine.explain(read_image(tmp_path / "b.png"), labels[0]).result(timeout=60)  # same pixels
        assert (len(reads), len(passes)) == (2, 1)  # read and prepared, not run: the same network input
    finally:
        engine.shutdown()


def test_a_heat_map_for_an_export_is_never_replaced_by_the_readers_next_one(random_package, tmp_path):
    engine = Engine(loader=lambda package, device: load_service(package, device, backend="torch"))
    try:
        engine.load(random_package, "cpu").result(timeout=120)
        image = read_image(_radiograph(tmp_path / "a.png"))
        label = engine.info.card.labels[0].name
        busy = threading.Event()
        engine.run_task(lambda service: busy.wait(60))  # the owner thread is busy meanwhile
        exported = engine.explain(image, label, replaceable=False)
        looked_at = engine.explain(image, label)
        latest = engine.explain(image, label)  # the reader moved on: the previous request goes
        busy.set()
        assert exported.result(timeout=60).values.shape == image.pixels.shape
        assert latest.result(timeout=60).label == label
        assert looked_at.cancelled()
    finally:
        engine.shutdown()
