"""scripts/transfer_study.py: the arms' commands, resuming, and the rule its conclusion follows."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from inference.fit.evaluation.metrics import auroc, paired_bootstrap_auroc_difference_ci

SCRIPT = Path(__file__).parent.parent.parent / "scripts" / "transfer_study.py"


@pytest.fixture(scope="module")
def study():
    spec = importlib.util.spec_from_file_location("transfer_study", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["transfer_study"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def _value(command: list[str], flag: str) -> str:
    return command[command.index(flag) + 1]


def test_every_arm_trains_on_the_shipped_models_splits_with_the_same_budget(study, tmp_path: Path):
    commands = [study.train_command(arm, Path("/data"), tmp_path, 4) for arm in study.ARMS]
    for command in commands:
        for flag, value in {
            "--val-fraction": "0.15", "--test-fraction": "0.2", "--seed": "0", "--epoch-size": "1600",
            "--batch-size": "16", "--weight-decay": "1e-2", "--balance": "sampler", "--epochs": "4",
            "--input-size": "160", "--threads": "1", "--select-labels": "Pneumonia",
        }.items():  # fmt: skip
            assert _value(command, flag) == value, (command, flag)
        assert "--balance-views" in command and "--resume" in command
    pretrained = [_value(c, "--strategy") for c in commands if "--pretrained" in c]
    assert pretrained == ["head", "finetune", "gradual"]
    assert [_value(c, "--arch") for c in commands].count("efficientnet_lite0") == 4


def test_arms_with_a_package_are_skipped(study, tmp_path: Path):
    done = study.ARMS[1]
    (tmp_path / done.name / "package").mkdir(parents=True)
    (tmp_path / done.name / "package" / "card.json").write_text("{}")
    assert done not in study.pending(study.ARMS, tmp_path)
    assert len(study.pending(study.ARMS, tmp_path)) == len(study.ARMS) - 1


def _row(arm: str, nih: tuple[float, float, float], kermany: tuple[float, float, float]) -> dict:
    return {
        "arm": arm, "title": arm, "auroc": {"nih": nih[0], "kermany": kermany[0]},
        "ci95": {"nih": list(nih[1:]), "kermany": list(kermany[1:])}, "train_s_per_epoch": 100.0,
        "epochs": 4, "best_epoch": 4, "ms_per_image": {"1": 20.0, "8": 10.0},
    }  # fmt: skip


def _main_study_rows() -> list[dict]:
    """The four main-study arms: the ImageNet fine-tune best on NIH, Lite0 from scratch worst."""
    return [
        _row("densenet121-scratch", (0.87, 0.81, 0.92), (0.95, 0.93, 0.97)),
        _row("lite0-scratch", (0.65, 0.55, 0.75), (0.94, 0.92, 0.96)),
        _row("lite0-imagenet-finetune", (0.92, 0.88, 0.96), (0.96, 0.94, 0.98)),
        _row("densenet121-distilled", (0.90, 0.85, 0.94), (0.95, 0.93, 0.97)),
    ]


def test_the_distilled_arm_is_densenet_from_scratch_taught_by_the_imagenet_fine_tune(study, tmp_path: Path):
    command = study.train_command(study.DISTILLED, Path("/data"), tmp_path, 4)
    assert _value(command, "--teacher") == str(tmp_path / "lite0-imagenet-finetune" / "package")
    assert _value(command, "--arch") == "densenet121" and _value(command, "--lr") == "1e-3"
    assert "--pretrained" not in command
    names = [arm.name for arm in study.ARMS]
    assert names.index("lite0-imagenet-finetune") < names.index(study.DISTILLED.name)  # the teacher first
    others = [study.train_command(arm, Path("/data"), tmp_path, 4) for arm in study.ARMS[:-1]]
    assert not any("--teacher" in c for c in others)


def test_paired_auroc_difference_ci_is_clearly_positive_for_a_better_scorer():
    rng = np.random.default_rng(0)
    y = np.r_[np.ones(100), np.zeros(100)]
    good = y + rng.normal(0, 0.5, 200)
    poor = y + rng.normal(0, 2.0, 200)
    lo, hi = paired_bootstrap_auroc_difference_ci(y, good, poor, n_boot=300)
    assert 0 < lo < auroc(y, good) - auroc(y, poor) < hi


def test_paired_auroc_difference_ci_straddles_zero_for_equally_good_scorers():
    rng = np.random.default_rng(1)
    y = np.r_[np.ones(100), np.zeros(100)]
    a, b = y + rng.normal(0, 1.0, 200), y + rng.normal(0, 1.0, 200)
    lo, hi = paired_bootstrap_auroc_difference_ci(y, a, b, n_boot=300)
    assert lo < 0 < hi
    assert paired_bootstrap_auroc_difference_ci(y, a, b, n_boot=300) == (lo, hi)  # seeded


def test_paired_auroc_difference_resamples_the_same_cases_for_both_scores():
    rng = np.random.default_rng(2)
    y = np.r_[np.ones(50), np.zeros(50)]
    a = y + rng.normal(0, 1.0, 100)
    assert paired_bootstrap_auroc_difference_ci(y, a, 3 * a + 1, n_boot=200) == (0.0, 0.0)  # same ranking


def _predictions(tmp_path: Path, arm: str, probs: list[float], paths: list[str]) -> None:
    """An arm's saved test predictions as the training writes them (predictions.npz, split.json, card)."""
    work = tmp_path / arm
    (work / "package").mkdir(parents=True)
    (work / "package" / "card.json").write_text(
        json.dumps({"labels": [{"name": "Edema"}, {"name": "Pneumonia"}]})
    )
    (work / "split.json").write_text(json.dumps({"train": [], "val": [], "test": paths}))
    targets = np.array([[0.0, 0.0], [np.nan, 0.0], [0.0, 1.0], [0.0, 1.0], [0.0, 0.0], [0.0, np.nan]])
    test_idx = np.arange(1, len(paths) + 1)
    test_probs = np.c_[np.zeros(len(paths)), probs]
    np.savez_compressed(work / "predictions.npz", test_idx=test_idx, test_probs=test_probs, targets=targets)


def test_paired_differences_come_from_the_arms_saved_test_predictions_per_source(study, tmp_path: Path):
    paths = ["/d/nih-pneumonia-subset/images/a.png", "/d/kermany-pediatric-224/train/PNEUMONIA/b.jpeg",
             "/d/nih-pneumonia-subset/images/c.png", "/d/kermany-pediatric-224/train/NORMAL/d.jpeg",
             "/d/nih-pneumonia-subset/images/e.png"]  # fmt: skip
    # Pneumonia targets of test_idx 1..5: nih 0, 1, NaN (left out); kermany 1, 0
    _predictions(tmp_path, "a", [0.2, 0.9, 0.8, 0.1, 0.5], paths)
    _predictions(tmp_path, "b", [0.9, 0.9, 0.1, 0.1, 0.5], paths)
    a, b = study.held_out_predictions(tmp_path, "a"), study.held_out_predictions(tmp_path, "b")
    assert list(a.sources) == ["nih", "kermany", "nih", "kermany", "nih"]
    assert study.paired_difference(a, b, "nih") == {"value": 1.0, "ci95": [1.0, 1.0]}
    _predictions(tmp_path, "c", [0.2, 0.9, 0.8, 0.1, 0.5], [*paths[:4], "/d/nih-pneumonia-subset/x.png"])
    with pytest.raises(ValueError, match="tested on different images"):
        study.paired_difference(a, study.held_out_predictions(tmp_path, "c"), "nih")
    with pytest.raises(ValueError, match="in none of the data folders"):
        study.source_of("/elsewhere/x.png")


def test_a_clear_win_needs_the_paired_ci_wholly_above_zero_even_where_the_arms_cis_overlap(study):
    rows = _main_study_rows()
    pairs = study.comparisons(rows)
    assert pairs[:4] == [
        ("nih", "lite0-imagenet-finetune", "densenet121-scratch"),
        ("nih", "lite0-imagenet-finetune", "lite0-scratch"),
        ("nih", "densenet121-distilled", "densenet121-scratch"),
        ("nih", "lite0-imagenet-finetune", "densenet121-distilled"),
    ]
    cis = [(0.005, 0.09), (0.2, 0.4), (-0.02, 0.08), (-0.06, -0.01)]
    paired = [
        {"source": s, "a": a, "b": b, "value": 0.0, "ci95": list(ci)}
        for (s, a, b), ci in zip(pairs, cis * 2, strict=True)
    ]
    lines = study.conclusion(rows, paired)
    assert lines[0] == (
        "- **nih**: lite0-imagenet-finetune (0.920) is **clearly better than** densenet121-scratch (0.870): "
        "+0.000 (+0.005 to +0.090)."
    )
    assert "is **not clearly different from** densenet121-scratch" in lines[2]
    assert "is **clearly worse than** densenet121-distilled" in lines[3]
    table = "\n".join(study.differences_table(paired, {r["arm"]: r["title"] for r in rows}))
    assert "| +0.000 (+0.005 to +0.090) | clear win |" in table
    assert "0.920 (0.880–0.960)" in "\n".join(study.table(rows))


def test_the_follow_up_continues_the_shipped_model_at_224_px_with_and_without_the_224_px_teacher(
    study, tmp_path: Path
):
    teacher, plain, distilled = (
        study.train_command(arm, Path("/data"), tmp_path, 4) for arm in study.FOLLOW_UP
    )
    assert [_value(c, "--input-size") for c in (teacher, plain, distilled)] == ["224"] * 3
    assert [_value(c, "--epochs") for c in (teacher, plain, distilled)] == ["5", "8", "8"]  # not --epochs 4
    assert _value(teacher, "--pretrained") == "imagenet" and _value(teacher, "--aspect") == "0.9,1.6"
    assert _value(plain, "--init") == str(study.SHIPPED)
    assert _value(distilled, "--teacher") == str(tmp_path / study.TEACHER_224.name / "package")
    at = distilled.index("--teacher")
    without_teacher = distilled[:at] + distilled[at + 2 :]
    assert [w for w in without_teacher if "continued" not in w] == [w for w in plain if "continued" not in w]


def test_the_follow_up_is_compared_and_reported_apart_from_the_main_study(study):
    main = _main_study_rows()
    follow = [
        _row(study.TEACHER_224.name, (0.97, 0.95, 0.99), (0.99, 0.98, 1.0)),  # best ImageNet arm, but 224 px
        _row(study.CONTINUED.name, (0.90, 0.85, 0.95), (0.99, 0.98, 1.0)),
        _row(study.CONTINUED_DISTILLED.name, (0.91, 0.86, 0.95), (0.99, 0.98, 1.0)),
    ]
    pairs = study.comparisons(main + follow)
    assert pairs[:8] == study.comparisons(main)  # the main study's best ImageNet arm stays a 160-px one
    assert pairs[8:] == [
        ("nih", study.CONTINUED_DISTILLED.name, study.CONTINUED.name),
        ("nih", study.TEACHER_224.name, study.CONTINUED_DISTILLED.name),
        ("kermany", study.CONTINUED_DISTILLED.name, study.CONTINUED.name),
        ("kermany", study.TEACHER_224.name, study.CONTINUED_DISTILLED.name),
    ]
    paired = [{"source": s, "a": a, "b": b, "value": 0.01, "ci95": [-0.01, 0.03]} for s, a, b in pairs]
    doc = study.document(main + follow, paired, "cmd", 4, "today", "here")
    head, follow_up = doc.split("## Follow-up at 224 px")
    assert study.TEACHER_224.name not in head and study.CONTINUED.name not in head  # _row: title = name
    assert f"| {study.CONTINUED.name} | 0.900 (0.850–0.950) |" in follow_up  # its results row
    assert f"**not clearly different from** {study.CONTINUED.name} (0.900)" in follow_up
