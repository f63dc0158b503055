"""EfficientNet-Lite0 as a second architecture: ImageNet key mapping, training, packages, inference."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from inference.api import ModelCard, Preprocessing
from inference.bundled import SAMPLES
from inference.fit.train.config import TrainConfig
from inference.fit.train.run import train
from inference.fit.train.transfer import param_groups, set_trainable, train_mode
from inference.io import read_image
from inference.models.architectures import architecture_of, build
from inference.models.card import PackageError, parse_card
from inference.models.efficientnet import CheXEfficientNetLite0, imagenet_state, map_key
from inference.models.package import load_package, save_package
from inference.models.registry import ARCHITECTURES
from inference.runtime import explain, preprocess, torch_service
from inference.runtime.service import load_service

FIX = Path(__file__).parent.parent / "fixtures" / "train"
CHEST = SAMPLES / "00000001_000.png"


def test_imagenet_weights_load_strictly_with_every_key_used():
    state = imagenet_state()
    model = CheXEfficientNetLite0(1000)
    reference = model.state_dict()
    assert len(state) == len(reference) == 296  # the mapping is one to one: no key dropped or merged
    assert {k: tuple(v.shape) for k, v in state.items()} == {k: tuple(v.shape) for k, v in reference.items()}
    model.load_state_dict(state, strict=True)
    x = torch.from_numpy(preprocess.prepare(read_image(CHEST).pixels, Preprocessing.CHEXNET, 224))[None]
    with torch.inference_mode():
        logits = model.eval()(x)
    assert logits.shape == (1, 1000) and torch.isfinite(logits).all()


@pytest.mark.parametrize(
    ("lukemelas", "ours"),
    [
        ("_conv_stem.weight", "features.conv_stem.weight"),
        ("_bn0.running_var", "features.bn1.running_var"),
        ("_blocks.0._depthwise_conv.weight", "features.blocks.0.0.conv_dw.weight"),
        ("_blocks.0._bn2.bias", "features.blocks.0.0.bn2.bias"),  # no expansion: bn2 follows the projection
        ("_blocks.1._expand_conv.weight", "features.blocks.1.0.conv_pw.weight"),
        ("_blocks.3._bn0.weight", "features.blocks.2.0.bn1.weight"),
        ("_blocks.8._project_conv.weight", "features.blocks.4.0.conv_pwl.weight"),
        ("_blocks.14._bn1.running_mean", "features.blocks.5.3.bn2.running_mean"),
        ("_blocks.15._bn2.weight", "features.blocks.6.0.bn3.weight"),
        ("_conv_head.weight", "features.conv_head.weight"),
        ("_bn1.bias", "features.bn2.bias"),
        ("_fc.weight", "classifier.weight"),
    ],
)
def test_lukemelas_keys_map_onto_timm_blocks(lukemelas: str, ours: str):
    assert map_key(lukemelas) == ours


def _step(model: torch.nn.Module, strategy: str, epoch: int = 0) -> None:
    set_trainable(model, strategy, epoch)
    train_mode(model)
    optimizer = torch.optim.AdamW(param_groups(model, 1e-2, 1.0), weight_decay=1e-2)
    model(torch.randn(2, 3, 64, 64)).sum().backward()
    optimizer.step()


def test_head_strategy_freezes_the_backbone_and_its_batchnorm_statistics():
    torch.manual_seed(0)
    model = build("efficientnet_lite0", 2)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    _step(model, "head")
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed == {"classifier.weight", "classifier.bias"}


def test_gradual_unfreezes_only_the_last_blocks_after_the_head_epochs():
    model = build("efficientnet_lite0", 2)
    set_trainable(model, "gradual", epoch=0, head_epochs=1)
    assert not any(p.requires_grad for p in model.features.parameters())
    set_trainable(model, "gradual", epoch=1, head_epochs=1)
    trainable = {n.rsplit(".", 1)[0] for n, p in model.features.named_parameters() if p.requires_grad}
    assert {n.split(".")[0] for n in trainable} == {"blocks", "conv_head", "bn2"}
    assert {n[:8] for n in trainable if n.startswith("blocks")} == {"blocks.5", "blocks.6"}
    train_mode(model)
    assert not model.features.blocks[4][0].bn1.training and model.features.blocks[5][0].bn1.training


def test_imagenet_weights_exist_for_efficientnet_only():
    with pytest.raises(ValueError, match="ImageNet weights exist for efficientnet_lite0 only"):
        build("densenet121", 2, pretrained="imagenet")


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A package trained for one tiny epoch from ImageNet weights, gradual strategy."""
    tmp = tmp_path_factory.mktemp("lite0")
    cfg = TrainConfig(
        data=[f"kermany={FIX / 'kermany'}"], out=tmp / "pkg", work=tmp / "work", input_size=64, epochs=2,
        batch_size=4, val_fraction=0.34, test_fraction=0.0, min_positives=1, threads=1, n_boot=20,
        arch="efficientnet_lite0", pretrained="imagenet", strategy="gradual",
    )  # fmt: skip
    train(cfg)
    return tmp / "pkg"


def test_a_trained_package_says_its_architecture_and_initialisation(package: Path):
    card, model = load_package(package)
    assert card.architecture == "efficientnet_lite0" and isinstance(model, CheXEfficientNetLite0)
    assert "imagenet" in json.loads((package / "card.json").read_text())["metrics"]["initialisation"]
    text = (package / "card.md").read_text()
    assert "Architecture: efficientnet_lite0" in text and "Initialisation: from imagenet weights" in text


def test_it_scores_and_explains_through_the_service_with_captum(package: Path, monkeypatch):
    def closed_form(*_args):
        raise AssertionError("the closed form is valid for DenseNet-121's head only")

    monkeypatch.setattr(torch_service, "forward_cams", closed_form)
    service = load_service(package, device="cpu", precision="fp32", backend="auto")
    image = read_image(CHEST)
    [prediction] = service.predict([image])
    assert service.backend == "torch"  # auto quietly keeps torch: ONNX export is DenseNet-only
    assert all(0 <= p <= 1 for p in prediction.probabilities.values())
    assert prediction.embedding is not None and prediction.embedding.shape == (1280,)
    heatmap = service.explain(image, service.card.shown_labels[0])
    assert heatmap.values.shape == image.pixels.shape and np.isfinite(heatmap.values).all()
    assert "Captum" in heatmap.method
    x = torch.from_numpy(preprocess.prepare(image.pixels, Preprocessing.CHEXNET, 64))[None]
    cams, _ = explain.captum_cams(load_package(package)[1], x)
    assert cams.shape == (len(service.card.labels), 2, 2)


def test_onnx_backend_refuses_it_and_says_why(package: Path):
    with pytest.raises(ValueError, match="onnx backend cannot be used: it exports DenseNet-121 only"):
        load_service(package, device="cpu", backend="onnx")


def test_a_card_that_names_the_wrong_architecture_is_refused(package: Path, tmp_path: Path):
    card, model = load_package(package)
    wrong = dataclasses.replace(card, architecture="densenet121")
    with pytest.raises(PackageError, match="missing key"):
        save_package(tmp_path / "pkg", wrong, model)


def _card_dict(package: Path, architecture: str) -> dict:
    data = json.loads((package / "card.json").read_text())
    return {**data, "architecture": architecture}


def test_card_validation_accepts_efficientnet_and_still_refuses_unknown_architectures(package: Path):
    assert isinstance(parse_card(_card_dict(package, "efficientnet_lite0"), package), ModelCard)
    with pytest.raises(PackageError, match="architecture must be one of .* \\(got 'resnet50'\\)"):
        parse_card(_card_dict(package, "resnet50"), package)


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_every_registry_entry_builds_its_network_and_names_its_real_stem(name: str):
    model = build(name, 2, in_channels=1)
    assert architecture_of(model).name == name
    assert model.state_dict()[ARCHITECTURES[name].stem].shape[1] == 1


def test_init_package_and_arch_must_agree(package: Path, tmp_path: Path):
    cfg = TrainConfig(
        data=[f"kermany={FIX / 'kermany'}"], out=tmp_path / "pkg", work=tmp_path / "work", input_size=64,
        epochs=1, batch_size=4, val_fraction=0.34, test_fraction=0.0, min_positives=1, threads=1,
        init=package, arch="densenet121",
    )  # fmt: skip
    with pytest.raises(ValueError, match="--arch densenet121 but the --init package .* efficientnet_lite0"):
        train(cfg)


def test_loading_a_densenet_package_does_not_import_timm():
    import subprocess
    import sys

    probe = (
        "import sys; from inference.bundled import DEMO_MODEL;"
        " from inference.models.package import load_package;"
        " load_package(DEMO_MODEL); print('timm' in sys.modules)"
    )
    command = [sys.executable, "-c", probe]
    out = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "False"
