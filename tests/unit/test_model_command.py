"""``cxr-triage model import|info`` through :func:`inference.cli.main.main`: outputs and exit codes."""

from __future__ import annotations

import hashlib
import json
import math
import shutil
from pathlib import Path

import pytest
import torch

from inference.cli import main as cli
from inference.models.package import WEIGHTS, read_card

try:  # helpers that recreate the original checkpoint formats
    from test_checkpoints import ArnowengDenseNet121, DenseNet, arnoweng_checkpoint, save_as_torchxrayvision
except ImportError:  # tests/unit imported as a package
    from tests.unit.test_checkpoints import (
        ArnowengDenseNet121,
        DenseNet,
        arnoweng_checkpoint,
        save_as_torchxrayvision,
    )


@pytest.fixture(autouse=True)
def only_model_command(monkeypatch: pytest.MonkeyPatch) -> None:
    """Parse with this command alone, whatever state the other commands are in."""
    monkeypatch.setattr(cli, "COMMANDS", ("model",))


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def checkpoints_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Random weights in both original formats (no parity here: see test_checkpoints)."""
    folder = tmp_path_factory.mktemp("checkpoints")
    torch.manual_seed(0)
    torch.save(arnoweng_checkpoint(ArnowengDenseNet121(14)), folder / "model.pth.tar")
    threshs = torch.tensor([0.2] * 14 + [math.nan] * 4)
    save_as_torchxrayvision(DenseNet(op_threshs=threshs), folder / "xrv-nih.pt")
    (folder / "garbage.pt").write_bytes(b"\x89PNG not a checkpoint" * 50)
    return folder


def test_info_prints_the_card(random_package: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "model", "info", random_package)
    assert code == 0, err
    card = read_card(random_package)
    for text in ("random-test-model", "0.0.0", "densenet121", "multilabel", "chexnet", "224×224"):
        assert text in out
    assert card.weights_sha256 in out and "matches the card and loads" in out
    assert "Not for diagnostic use." in out
    assert "high_sensitivity" in out and "youden" in out and "Pleural_Thickening" in out
    assert "14 outputs, 14 trained" in out


def test_info_detects_changed_weights(
    random_package: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    package = shutil.copytree(random_package, tmp_path / "pkg")
    with (package / WEIGHTS).open("ab") as f:
        f.write(b"\0")
    code, out, err = run(capsys, "model", "info", package)
    assert code == 1 and "CANNOT BE LOADED" in out
    assert "model.safetensors: sha256" in err and "does not match the card's" in err


@pytest.mark.parametrize(
    "argv", [("info", "{tmp}/absent"), ("import", "xrv", "{tmp}/absent.pt", "{tmp}/pkg")]
)
def test_missing_paths_fail_cleanly(
    argv: tuple[str, ...], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "model", *(a.format(tmp=tmp_path) for a in argv))
    assert code == 2 and out == ""
    assert err.startswith("cxr-triage model: error:") and "absent" in err and "Traceback" not in err


def test_import_chexnet_then_info(
    checkpoints_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dest = tmp_path / "chexnet"
    code, out, err = run(
        capsys,
        "model",
        "import",
        "chexnet",
        checkpoints_dir / "model.pth.tar",
        dest,
        "--name",
        "chexnet",
        "--version",
        "2",
    )
    assert code == 0, err
    assert "14 outputs, 14 trained" in out
    card = read_card(dest)
    assert (card.name, card.version) == ("chexnet", "2")
    assert "ONNX export model.onnx" in out  # what the reading station runs, made with the package
    assert card.onnx is not None and (dest / card.onnx.file).is_file() and card.onnx.parity <= 1e-4

    code, out, err = run(capsys, "model", "info", dest)
    assert code == 0, err
    assert "Default operating point  uncalibrated" in out and "re-derive" in out and "ChestX-ray14" in out
    assert "matches the card and loads" in out


def test_import_xrv_pickle_then_info(
    checkpoints_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dest = tmp_path / "xrv"
    code, out, err = run(capsys, "model", "import", "xrv", checkpoints_dir / "xrv-nih.pt", dest)
    assert code == 0, err
    assert "18 outputs, 14 trained" in out
    card = read_card(dest)
    assert card.name == "xrv-xrv-nih" and card.version.startswith("imported-")

    code, out, _ = run(capsys, "model", "info", dest)
    assert code == 0
    assert "xrv_op_thresh" in out and "Default operating point  xrv_op_thresh" in out
    lesion = next(line for line in out.splitlines() if "Lung Lesion" in line and "no" in line.split())
    assert "0.2" not in lesion and "—" in lesion  # untrained: no threshold shown
    assert "0.2" in next(line for line in out.splitlines() if "Atelectasis" in line)


def test_import_refuses_to_overwrite(
    checkpoints_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ("model", "import", "xrv", checkpoints_dir / "xrv-nih.pt", tmp_path / "pkg")
    assert run(capsys, *args)[0] == 0
    code, _, err = run(capsys, *args)
    assert code == 2 and "--force" in err
    code, _, err = run(capsys, *args, "--force", "--labels", ",".join(["Effusion"] * 18))
    assert code == 2 and "duplicate" in err
    labels = "Atelectasis,Consolidation" + "," * 16
    code, out, err = run(capsys, *args, "--force", "--labels", labels, "--op-threshs", ",".join(["0.3"] * 18))
    assert code == 0, err
    card = read_card(tmp_path / "pkg")
    assert card.shown_labels == ("Atelectasis", "Consolidation")
    assert card.thresholds() == {"Atelectasis": 0.3, "Consolidation": 0.3}


@pytest.mark.parametrize("kind", ["chexnet", "xrv"])
def test_garbage_fails_cleanly(
    kind: str, checkpoints_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "model", "import", kind, checkpoints_dir / "garbage.pt", tmp_path / "pkg")
    assert code == 2 and out == ""
    assert "garbage.pt: not a checkpoint that can be read without running code" in err
    assert "Traceback" not in err and "weights_only` set to `False" not in err
    assert not (tmp_path / "pkg").exists()


def test_wrong_kind_fails_cleanly(
    checkpoints_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "model", "import", "chexnet", checkpoints_dir / "xrv-nih.pt", tmp_path / "pkg")
    assert code == 2 and "use 'model import xrv'" in err
    code, _, err = run(capsys, "model", "import", "xrv", checkpoints_dir / "model.pth.tar", tmp_path / "pkg")
    assert code == 2 and "no classifier weight" in err and "densenet121.classifier.0" in err


def test_bad_op_threshs(checkpoints_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = (
        "model",
        "import",
        "xrv",
        checkpoints_dir / "xrv-nih.pt",
        tmp_path / "pkg",
        "--op-threshs",
        "0.1,x",
    )
    code, _, err = run(capsys, *argv)
    assert code == 2 and "--op-threshs" in err


def test_info_refuses_an_invalid_card(
    random_package: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    package = shutil.copytree(random_package, tmp_path / "pkg")
    card = json.loads((package / "card.json").read_text())
    card["input_size"], card["labels"][0] = 0, "Atelectasis"
    (package / "card.json").write_text(json.dumps(card))
    code, out, err = run(capsys, "model", "info", package)
    assert code == 2 and out == "" and "Traceback" not in err
    assert err.startswith(f"cxr-triage model: error: {package}: 2 problems:\n")
    assert "card.json: input_size must be a positive integer (got 0)" in err
    assert "card.json: labels[0] must be an object with a name (got 'Atelectasis')" in err


def test_info_says_when_weights_cannot_be_loaded(
    random_package: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The sha256 matches the card, but the file is not safetensors: not "matches"."""
    package = shutil.copytree(random_package, tmp_path / "pkg")
    (package / WEIGHTS).write_bytes(b"garbage" * 100)
    card = json.loads((package / "card.json").read_text())
    card["weights_sha256"] = hashlib.sha256((package / WEIGHTS).read_bytes()).hexdigest()
    (package / "card.json").write_text(json.dumps(card))
    code, out, err = run(capsys, "model", "info", package)
    assert code == 1 and "CANNOT BE LOADED" in out and "matches" not in out
    assert "model.safetensors: weights cannot be loaded" in err and "Traceback" not in err


def test_import_refuses_thresholds_outside_0_1(
    checkpoints_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    threshs = ",".join(["1.5"] + ["0.2"] * 17)
    argv = (
        "model",
        "import",
        "xrv",
        checkpoints_dir / "xrv-nih.pt",
        tmp_path / "pkg",
        "--op-threshs",
        threshs,
    )
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert (
        "labels[0] (Atelectasis): operating_points['xrv_op_thresh'] must be a threshold from 0 to 1 (got 1.5)"
        in err
    )
    assert not (tmp_path / "pkg").exists()


def test_export_adds_the_onnx_export_to_a_package(
    random_package: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    package = Path(shutil.copytree(random_package, tmp_path / "pkg"))
    code, out, _ = run(capsys, "model", "export", package)
    card = read_card(package)
    assert code == 0 and card.onnx is not None and f"Wrote {package / 'model.onnx'}" in out
    assert hashlib.sha256((package / "model.onnx").read_bytes()).hexdigest() == card.onnx.sha256
    assert card.onnx.parity <= 1e-4 and card.onnx.outputs == "logits-pooled-features"


def test_export_refuses_changed_weights_and_other_architectures(
    random_package: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    changed = Path(
        shutil.copytree(random_package, tmp_path / "changed", ignore=shutil.ignore_patterns("*.onnx"))
    )
    (changed / WEIGHTS).write_bytes((changed / WEIGHTS).read_bytes()[:-1] + b"\0")
    code, _, err = run(capsys, "model", "export", changed)
    assert code == 1 and "does not match the card" in err and not (changed / "model.onnx").exists()
    lite = Path(shutil.copytree(random_package, tmp_path / "lite"))
    card = json.loads((lite / "card.json").read_text())
    (lite / "card.json").write_text(json.dumps(card | {"architecture": "efficientnet_lite0"}))
    code, _, err = run(capsys, "model", "export", lite)
    assert code == 2 and "densenet121 only, not efficientnet_lite0" in err
