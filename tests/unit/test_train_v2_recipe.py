"""Model v2's recipe: the aspect stretch, EMA weights (shipped and resumed), source-balanced operating
points, and the aspect-restored evaluation copy."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from inference.cli.commands import train as train_command
from inference.fit.evaluation.aspect import WIDTH_RANGE, restore_split, stretch_factor
from inference.fit.evaluation.metrics import balancing_weights, operating_points, rates_at
from inference.fit.train import run as run_module
from inference.fit.train.augment import AugmentConfig, augment
from inference.fit.train.checkpoint import BEST, LAST, load_checkpoint
from inference.models.package import load_package

FIX = Path(__file__).parent.parent / "fixtures" / "train"
STILL = dict(rotate_deg=0.0, translate=0.0, scale=(1.0, 1.0), brightness=0.0, contrast=0.0)


def _stripe_width(view: np.ndarray) -> int:
    return int((view[view.shape[0] // 2] > 127).sum())


def test_aspect_stretches_horizontally_about_the_centre():
    img = np.zeros((100, 100), np.uint8)
    img[:, 45:55] = 255  # a 10-px vertical stripe in the middle
    rng = np.random.default_rng(0)
    plain = augment(img, 90, rng, AugmentConfig(**STILL))
    wide = augment(img, 90, rng, AugmentConfig(**STILL, aspect=(1.5, 1.5)))
    assert _stripe_width(plain) == 10
    assert _stripe_width(wide) == pytest.approx(15, abs=1)
    assert abs(np.flatnonzero(wide[45] > 127).mean() - 44.5) < 1.0  # still centred
    assert (wide[:, 0] == 0).all() and (wide[0] > 127).sum() == _stripe_width(wide)  # no vertical change


def test_aspect_range_is_sampled():
    img = np.zeros((100, 100), np.uint8)
    img[:, 45:55] = 255
    rng = np.random.default_rng(1)
    widths = {
        _stripe_width(augment(img, 90, rng, AugmentConfig(**STILL, aspect=(0.9, 1.6)))) for _ in range(30)
    }
    assert min(widths) <= 10 and max(widths) >= 14


def test_ema_weights_are_validated_shipped_and_resumed(tmp_path, monkeypatch, tiny_training):
    real_save = run_module.save_checkpoint

    def save_then_crash(*args, **kw):
        real_save(*args, **kw)
        raise KeyboardInterrupt

    monkeypatch.setattr(run_module, "save_checkpoint", save_then_crash)
    with pytest.raises(KeyboardInterrupt):
        run_module.train(tiny_training(tmp_path, ema=0.5))
    first = load_checkpoint(tmp_path / "work" / LAST)
    steps_one_epoch = int(first["scheduler"]["last_epoch"])
    assert int(first["ema"]["n_averaged"]) == steps_one_epoch

    monkeypatch.setattr(run_module, "save_checkpoint", real_save)
    run_module.train(tiny_training(tmp_path, ema=0.5, resume=True))
    last = load_checkpoint(tmp_path / "work" / LAST)
    assert int(last["ema"]["n_averaged"]) == 2 * steps_one_epoch  # the average went on, not restarted
    averaged = {k.removeprefix("module."): v for k, v in last["ema"].items() if k.startswith("module.")}
    raw = last["model"]["classifier.weight"]
    assert not torch.equal(averaged["classifier.weight"], raw)
    best = load_checkpoint(tmp_path / "work" / BEST)["model"]
    best_epoch = load_checkpoint(tmp_path / "work" / BEST)["epoch"]
    if best_epoch == 1:
        assert torch.equal(best["classifier.weight"], averaged["classifier.weight"])
    _, model = load_package(tmp_path / "pkg")
    shipped = model.state_dict()["classifier.weight"].float()
    assert torch.allclose(shipped, best["classifier.weight"].float(), atol=1e-6)
    assert not torch.allclose(shipped, raw.float(), atol=1e-6)


def test_balanced_rates_are_the_mean_of_the_per_source_rates():
    rng = np.random.default_rng(0)
    # a large source, and a small one whose negatives score higher (like adults next to children)
    big_y = np.r_[np.ones(400), np.zeros(100)]
    big_s = np.r_[rng.uniform(0.3, 1.0, 400), rng.uniform(0.0, 0.5, 100)]
    small_y = np.r_[np.ones(40), np.zeros(40)]
    small_s = np.r_[rng.uniform(0.7, 1.0, 40), rng.uniform(0.5, 0.8, 40)]
    y, s = np.r_[big_y, small_y], np.r_[big_s, small_s]
    groups = np.array(["big"] * 500 + ["small"] * 80)
    w = balancing_weights(groups, y)
    t = np.array([0.5, 0.7])
    sens, spec = rates_at(y, s, t, w)
    sens_big, spec_big = rates_at(big_y, big_s, t)
    sens_small, spec_small = rates_at(small_y, small_s, t)
    assert np.allclose(sens, (sens_big + sens_small) / 2) and np.allclose(spec, (spec_big + spec_small) / 2)
    assert np.allclose(rates_at(y, s, t, np.ones(len(y))), rates_at(y, s, t))  # unit weights change nothing
    cand = np.unique(s)
    j_big = np.add(*rates_at(big_y, big_s, cand)) - 1
    j_small = np.add(*rates_at(small_y, small_s, cand)) - 1
    best_mean_j = cand[np.flatnonzero(j_big + j_small >= (j_big + j_small).max() - 1e-12).max()]
    balanced = operating_points(y, s, w)["youden"]
    assert balanced == best_mean_j  # Youden of the mean of the two sources' rates
    assert balanced > operating_points(y, s)["youden"] + 0.1  # pooled, the big source decides


def test_aspect_copy_restores_width_for_the_split_only(tmp_path):
    src = FIX / "kermany"
    files = sorted(p for p in src.rglob("*") if p.is_file())
    split = tmp_path / "split.json"
    chosen = [str(files[0]), str(files[-1])]
    split.write_text(json.dumps({"test": chosen, "train": [], "val": []}), encoding="utf-8")
    out = tmp_path / "restored"
    assert restore_split(src, out, split, "test") == 2
    written = sorted(out.rglob("*.png"))
    assert [p.relative_to(out).with_suffix("") for p in written] == sorted(
        Path(c).relative_to(src).with_suffix("") for c in chosen
    )
    for original, copy in zip(sorted(map(Path, chosen)), written, strict=True):
        with Image.open(original) as a, Image.open(copy) as b:
            ratio = b.width / b.height
            assert b.height == a.height and WIDTH_RANGE[0] - 0.01 <= ratio <= WIDTH_RANGE[1] + 0.01
            assert ratio == pytest.approx(stretch_factor(original.name), abs=1.0 / b.height)
    assert stretch_factor("x.jpeg") == stretch_factor("x.jpeg") != stretch_factor("y.jpeg")


def test_aspect_option_parses_and_reaches_the_recipe():
    parser = argparse.ArgumentParser()
    train_command.register(parser.add_subparsers())
    base = ["train", "--data", "x.csv", "--out", "pkg"]
    args = parser.parse_args([*base, "--aspect", "0.9,1.6", "--ema", "0.99"])
    cfg = train_command.config_from_args(args)
    assert cfg.aspect == (0.9, 1.6) and cfg.ema == 0.99
    assert "--aspect 0.9,1.6 --ema 0.99" in cfg.recipe
    for bad in ("1.6,0.9", "wide", "0,1"):
        with pytest.raises(SystemExit):
            parser.parse_args([*base, "--aspect", bad])
    for bad in ("1", "-0.5", "slow"):
        with pytest.raises(SystemExit):
            parser.parse_args([*base, "--ema", bad])


def test_weighted_rates_stay_within_zero_and_one():
    """Weighted sums in another order round past 1 (a card with specificity -4e-16 is refused)."""
    rng = np.random.default_rng(1)
    n = 215
    y, groups, s = rng.random(n) < 0.6, rng.choice(["a", "b", "c"], n), rng.random(n)
    sens, spec = rates_at(y, s, np.unique(s), balancing_weights(groups, y))
    assert sens.max() == 1.0 and sens.min() >= 0.0 and spec.min() >= 0.0 and spec.max() <= 1.0


def _evaluation(folder: Path, metrics: dict) -> Path:
    folder.mkdir()
    (folder / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    return folder


def test_publish_puts_product_path_evaluations_into_the_card(tmp_path):
    from inference.bundled import DEMO_MODEL
    from inference.fit.train.publish import publish
    from inference.models.card import read_card

    package = tmp_path / "pkg"
    package.mkdir()
    for name in ("card.json", "model.safetensors"):
        (package / name).write_bytes((DEMO_MODEL / name).read_bytes())
    summary = {"auroc": 0.9123, "ci95": [0.85, 0.95], "n_positive": 81, "n_negative": 70}
    pooled = _evaluation(
        tmp_path / "pooled", {"by_stratum": {"nih": {"Pneumonia": summary}}, "labels": {"Pneumonia": {}}}
    )
    single = _evaluation(
        tmp_path / "single", {"by_stratum": {}, "labels": {"Pneumonia": summary | {"sweep": [1, 2]}}}
    )
    publish(package, evaluations={"As given": pooled, "kermany-aspect-restored": single})
    card = read_card(package)
    assert card.metrics["product_path_test"] == {
        "As given": {"nih": {"Pneumonia": summary}},
        "kermany-aspect-restored": {"kermany-aspect-restored": {"Pneumonia": summary}},
    }
    text = (package / "card.md").read_text(encoding="utf-8")
    assert "## Held-out test through the product's inference path" in text
    assert "| kermany-aspect-restored | Pneumonia | 0.912 (0.850–0.950) | 81 | 70 |  |" in text
    # the gate's section comes from the card too: publishing after the gate's fit keeps it
    assert "## Safety gate" in text and "| negatives stopped: pydicom non-radiograph test images |" in text
