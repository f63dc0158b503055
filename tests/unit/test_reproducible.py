"""One image, one score: fp32 by default on every path, whatever the batch, the run or the command."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from inference.api import Status
from inference.bundled import DEMO_MODEL, SAMPLES
from inference.cli.main import main
from inference.models.card import read_card
from inference.runtime.options import PRECISIONS
from inference.store import ImageResult, Store

# A PNG, a JPEG, and DICOMs decoded at reduced resolution by three routes (JPEG DCT, JPEG 2000, plain)
IMAGES = (
    "00000001_000.png",
    "person1000_bacteria_2931.jpeg",
    "CR_chest_SIIM_jpegbaseline_8bit.dcm",
    "DX_chest_PA_canon_J2KR_MONO1_966_fixed.dcm",
    "DX_chest_NIH_google_1024_8bit.dcm",
)
WEIGHTS = read_card(DEMO_MODEL).weights_sha256


def _triage(paths: list[Path], db: Path, out: Path, *options: str) -> dict[str, ImageResult]:
    argv = ["triage", *map(str, paths), "--db", str(db), "--out", str(out), "--device", "cpu", *options]
    assert main(argv) == 0
    with Store(db) as store:
        return {Path(im.entry.meta.path).name: store.results(WEIGHTS)[im.image_uid] for im in store.images()}


def _precisions(db: Path) -> set[str]:
    with Store(db) as store:
        return {row["precision"] for row in store._read("SELECT precision FROM results")}


@pytest.fixture(scope="module")
def studies(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("studies")
    for name in IMAGES:
        shutil.copy(SAMPLES / name, folder / name)
    return folder


@pytest.mark.slow
def test_an_image_scores_the_same_alone_and_in_any_batch_at_fp32_by_default(studies: Path, tmp_path: Path):
    batched = _triage([studies], tmp_path / "batched.sqlite", tmp_path / "batched")
    assert _precisions(tmp_path / "batched.sqlite") == {"fp32"}  # by default, on every CPU kind
    three = _triage([studies], tmp_path / "three.sqlite", tmp_path / "three", "--batch-size", "3")
    assert batched.keys() == three.keys() == set(IMAGES)
    for name in IMAGES[1:4]:
        alone = _triage([studies / name], tmp_path / f"{name}.sqlite", tmp_path / name, "--batch-size", "1")
        for run in (alone, three):
            ours, theirs = run[name], batched[name]
            assert ours.status is Status.SCORED and ours.probabilities.keys() == theirs.probabilities.keys()
            for label, p in ours.probabilities.items():
                assert p == pytest.approx(theirs.probabilities[label], abs=1e-6), (name, label)


@pytest.mark.slow
def test_the_backends_agree_within_1e_4(studies: Path, tmp_path: Path):
    onnx = _triage([studies], tmp_path / "onnx.sqlite", tmp_path / "onnx", "--backend", "onnx")
    torch = _triage([studies], tmp_path / "torch.sqlite", tmp_path / "torch", "--backend", "torch")
    for name, result in onnx.items():
        for label, p in result.probabilities.items():
            assert p == pytest.approx(torch[name].probabilities[label], abs=1e-4), (name, label)


def test_reduced_precisions_are_only_ever_asked_for():
    assert PRECISIONS[0] == "fp32" and "auto" not in PRECISIONS
    import argparse

    from inference.cli.commands.triage import register

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    assert parser.parse_args(["triage", "x"]).precision == "fp32"


def test_a_result_is_reused_only_for_a_request_of_the_same_precision(tmp_path: Path):
    from inference.io import scan

    with Store(tmp_path / "s.sqlite") as store:
        entries = list(scan(SAMPLES / IMAGES[0]))
        (uid,) = store.record(entries)
        fp32 = ImageResult(uid, Status.SCORED, {"Pneumonia": 0.4})
        store.save_results([fp32], WEIGHTS, precision="fp32")
        assert store.reusable_results(WEIGHTS, "fp32", [uid]) == {uid: fp32}
        assert store.reusable_results(WEIGHTS, "int8", [uid]) == {}
        int8 = ImageResult(uid, Status.SCORED, {"Pneumonia": 0.41})
        store.save_results([int8], WEIGHTS, precision="int8")
        assert store.reusable_results(WEIGHTS, "int8", [uid]) == {uid: int8}
        assert store.reusable_results(WEIGHTS, "fp32", [uid]) == {uid: fp32}  # both kept
        assert store.results(WEIGHTS)[uid] == int8  # the newest is shown
