"""Image flagging, augmentation, balanced sampling, the LR schedule and transfer strategies."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from inference.fit.train.augment import AugmentConfig, augment, crop, to_batch
from inference.fit.train.cache import load_images, pre_crop_size, quality_issue
from inference.fit.train.loop import WarmupCosine, masked_bce
from inference.fit.train.sampling import balanced_weights, epoch_order
from inference.fit.train.transfer import param_groups, set_trainable, train_mode
from inference.models.densenet import CheXDenseNet

FIX = Path(__file__).parent.parent / "fixtures" / "train"


def test_quality_flags_blank_and_black_border():
    rng = np.random.default_rng(0)
    radiograph = rng.integers(40, 220, (64, 64)).astype(np.uint8)
    assert quality_issue(radiograph) == ""
    assert quality_issue(np.full((64, 64), 128, np.uint8)) == "blank (no contrast)"
    border = np.zeros((64, 64), np.uint8)
    border[20:40, 20:40] = radiograph[20:40, 20:40]
    assert quality_issue(border) == "mostly black border"


def test_load_images_skips_and_reports(tmp_path):
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.zeros((100, 100), np.uint8))
    good = next((FIX / "kermany" / "NORMAL").iterdir())
    images, skipped = load_images([good, blank, tmp_path / "missing.png"], 64)
    assert images.shape == (3, pre_crop_size(64), pre_crop_size(64)) and images.dtype == np.uint8
    assert set(skipped) == {1, 2} and "blank" in skipped[1] and images[0].std() > 0


def test_augment_keeps_size_range_and_no_flip_by_default():
    rng = np.random.default_rng(0)
    img = np.tile(np.arange(73, dtype=np.uint8)[None] * 3, (73, 1))  # left dark, right bright
    out = augment(img, 64, rng, AugmentConfig())
    assert out.shape == (64, 64) and out.dtype == np.float32 and out.min() >= 0 and out.max() <= 255
    for _ in range(20):  # rotation ±7° and brightness ±10% never swap left and right
        v = augment(img, 64, rng, AugmentConfig())
        assert v[:, :16].mean() < v[:, -16:].mean()
    assert AugmentConfig().hflip is False
    x = to_batch([crop(img, 64)])
    assert x.shape == (1, 3, 64, 64) and torch.allclose(x[0, 0].mean(), x[0, 0].mean())


def test_balanced_weights_equalise_sources_and_strata():
    sources = ["a"] * 90 + ["b"] * 10
    strata = [True] * 10 + [False] * 80 + [True] * 5 + [False] * 5
    w = balanced_weights(sources, strata)
    src, st = np.array(sources), np.array(strata)
    assert w[src == "a"].sum() == pytest.approx(0.5) and w[(src == "a") & st].sum() == pytest.approx(0.25)
    order = epoch_order(100, 250, np.random.default_rng(0), w)
    assert len(order) == 250
    plain = epoch_order(100, 250, np.random.default_rng(0), None)
    assert sorted(plain[:100]) == list(range(100))


def test_warmup_cosine():
    f = WarmupCosine(total=100, warmup=10)
    assert f(0) == pytest.approx(0.1) and f(9) == pytest.approx(1.0)
    assert f(55) == pytest.approx(0.01 + 0.99 * 0.5, rel=1e-6) and f(100) == pytest.approx(0.01)


def test_masked_bce_ignores_unannotated():
    logits = torch.tensor([[2.0, -1.0], [0.5, 9.0]])
    y = torch.tensor([[1.0, float("nan")], [0.0, float("nan")]])
    full = masked_bce(logits[:, :1], y[:, :1], None, 0.0)
    assert masked_bce(logits, y, None, 0.0) == pytest.approx(float(full))


def _trainable(model):
    return {n.split(".")[1] if n.startswith("features") else "classifier"
            for n, p in model.named_parameters() if p.requires_grad}  # fmt: skip


def test_strategies_freeze_the_right_parameters():
    model = CheXDenseNet(3)
    set_trainable(model, "head")
    assert _trainable(model) == {"classifier"}
    set_trainable(model, "gradual", epoch=0, head_epochs=1)
    assert _trainable(model) == {"classifier"}
    set_trainable(model, "gradual", epoch=1, head_epochs=1)
    assert _trainable(model) == {"classifier", "denseblock4", "norm5"}
    set_trainable(model, "finetune")
    assert all(p.requires_grad for p in model.parameters())
    groups = param_groups(model, 1e-3, 0.1)
    assert [g["lr"] for g in groups if g["name"] == "backbone"] == pytest.approx([1e-4, 1e-4])
    with pytest.raises(ValueError):
        set_trainable(model, "nonsense")


def test_frozen_backbone_is_unchanged_after_a_step():
    torch.manual_seed(0)
    model = CheXDenseNet(3)
    set_trainable(model, "head")
    train_mode(model)
    assert not any(m.training for m in model.features.modules() if isinstance(m, torch.nn.BatchNorm2d))
    assert model.classifier.training
    before = {k: v.clone() for k, v in model.features.state_dict().items()}  # weights and BN statistics
    head = model.classifier.weight.clone()
    opt = torch.optim.AdamW(param_groups(model, 1e-2, 1.0), lr=1e-2)
    loss = model(torch.randn(4, 3, 32, 32)).logsumexp(1).mean()
    loss.backward()
    opt.step()
    assert all(torch.equal(before[k], v) for k, v in model.features.state_dict().items())
    assert not torch.equal(head, model.classifier.weight)


def test_cli_defaults_per_strategy_and_amp_only_with_native_bf16(monkeypatch):
    import argparse

    from inference.cli.commands import train as train_cmd
    from inference.fit.train import hardware

    parser = argparse.ArgumentParser()
    train_cmd.register(parser.add_subparsers())

    def cfg(*extra):
        return train_cmd.config_from_args(parser.parse_args(["train", "--data", "x", "--out", "o", *extra]))

    assert (cfg().strategy, cfg().lr) == ("scratch", 1e-3)
    assert (cfg("--init", "p").strategy, cfg("--init", "p").lr) == ("finetune", 1e-4)
    gradual = cfg("--init", "p", "--strategy", "gradual")
    assert (gradual.lr, gradual.backbone_lr_scale) == (1e-3, 0.1)
    assert cfg().hflip is False and "--hflip" in cfg("--hflip").recipe
    monkeypatch.setattr(hardware, "cpu_has_fast_bf16", lambda: False)
    assert not hardware.use_amp("auto") and hardware.use_amp("on") and not hardware.use_amp("off")
    monkeypatch.setattr(hardware, "cpu_has_fast_bf16", lambda: True)
    assert hardware.use_amp("auto")
