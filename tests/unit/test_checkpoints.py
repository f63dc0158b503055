"""Checkpoint import: each original format is recreated here, and the imported package must
reproduce the ORIGINAL pipeline's probabilities (original preprocessing + original module) on a
real chest radiograph.

No real weights can be downloaded, so the networks are randomly initialised. A random DenseNet's
pooled features hardly depend on the image, which would make any parity check pass; the heads are
therefore re-scaled (N(0, 1) weights, bias centred on another image) so that probabilities spread
over (0, 1) and move when the input changes — the "wrong preprocessing" tests prove that.
"""

from __future__ import annotations

import math
import re
import sys
import types
from collections import OrderedDict
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision
import torchvision.transforms as T
from PIL import Image
from torch import nn

from inference.api import ModelCard, Preprocessing
from inference.fit.checkpoint_import import import_checkpoint
from inference.labels import CHESTXRAY14, XRV_DEFAULT
from inference.models import checkpoints
from inference.models import chexnet_checkpoint as chexnet_format
from inference.models.checkpoints import UNCALIBRATED, CheckpointError
from inference.models.package import load_package, read_card, sha256_of
from inference.models.registry import CHECKPOINT_FORMATS
from inference.models.xrv_checkpoint import XRV_OP, xrv_labels
from inference.runtime import preprocess

REPO = Path(__file__).resolve().parents[2]
IMAGE = REPO / "resources" / "samples" / "00000001_000.png"
PARITY = 0.01
XRV_NIH_PATHOLOGIES = list(XRV_DEFAULT[:14]) + ["", "", "", ""]  # like xrv's densenet121-res224-nih


# ------------------------------------------------------------------------------------ original formats


class ArnowengDenseNet121(nn.Module):
    """arnoweng/CheXNet model.py: torchvision DenseNet-121 whose classifier is Linear + Sigmoid."""

    def __init__(self, out_size: int) -> None:
        super().__init__()
        self.densenet121 = torchvision.models.densenet121(weights=None)
        self.densenet121.classifier = nn.Sequential(nn.Linear(1024, out_size), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.densenet121(x)


def old_torchvision_key(key: str) -> str:
    """``denselayer1.norm1.weight`` -> ``denselayer1.norm.1.weight`` (pre-0.4 torchvision naming)."""
    return re.sub(r"(denselayer\d+\.(?:norm|relu|conv))([12])\.", r"\1.\2.", key)


def arnoweng_checkpoint(model: ArnowengDenseNet121, counters: bool = False) -> dict:
    """What ``model.pth.tar`` holds: DataParallel ``module.`` prefix, old names, and BatchNorm
    counters only when saved by torch 0.4.1 / torchvision 0.2.1 (``norm.1.num_batches_tracked``)."""
    state = OrderedDict()
    for key, value in model.state_dict().items():
        if key.endswith("num_batches_tracked"):
            if not counters:
                continue
            value = torch.tensor(1000)  # batches seen in training
        state[old_torchvision_key(f"module.{key}")] = value.clone()
    return {"epoch": 1, "arch": "densenet121", "state_dict": state, "best_loss": 0.1}


# torchxrayvision.models, reproduced: only the parts that shape the weights and the forward.
class _DenseLayer(nn.Sequential):
    def __init__(self, num_input_features: int, growth_rate: int, bn_size: int, drop_rate: float) -> None:
        super().__init__()
        self.add_module("norm1", nn.BatchNorm2d(num_input_features))
        self.add_module("relu1", nn.ReLU(inplace=True))
        self.add_module("conv1", nn.Conv2d(num_input_features, bn_size * growth_rate, 1, bias=False))
        self.add_module("norm2", nn.BatchNorm2d(bn_size * growth_rate))
        self.add_module("relu2", nn.ReLU(inplace=True))
        self.add_module("conv2", nn.Conv2d(bn_size * growth_rate, growth_rate, 3, padding=1, bias=False))
        self.drop_rate = drop_rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, super().forward(x)], 1)


class _DenseBlock(nn.Sequential):
    def __init__(self, num_layers: int, num_input_features: int, bn_size: int, growth_rate: int) -> None:
        super().__init__()
        for i in range(num_layers):
            layer = _DenseLayer(num_input_features + i * growth_rate, growth_rate, bn_size, 0)
            self.add_module(f"denselayer{i + 1}", layer)


class _Transition(nn.Sequential):
    def __init__(self, num_input_features: int, num_output_features: int) -> None:
        super().__init__()
        self.add_module("norm", nn.BatchNorm2d(num_input_features))
        self.add_module("relu", nn.ReLU(inplace=True))
        self.add_module("conv", nn.Conv2d(num_input_features, num_output_features, 1, bias=False))
        self.add_module("pool", nn.AvgPool2d(kernel_size=2, stride=2))


class DenseNet(nn.Module):
    """xrv.models.DenseNet (1 input channel, 18 outputs, ``op_threshs`` buffer, ``pathologies``)."""

    def __init__(self, num_classes: int = 18, in_channels: int = 1, op_threshs: torch.Tensor | None = None):
        super().__init__()
        self.features = nn.Sequential(
            OrderedDict(
                [
                    ("conv0", nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False)),
                    ("norm0", nn.BatchNorm2d(64)),
                    ("relu0", nn.ReLU(inplace=True)),
                    ("pool0", nn.MaxPool2d(kernel_size=3, stride=2, padding=1)),
                ]
            )
        )
        num_features = 64
        for i, num_layers in enumerate((6, 12, 24, 16)):
            self.features.add_module(f"denseblock{i + 1}", _DenseBlock(num_layers, num_features, 4, 32))
            num_features += num_layers * 32
            if i != 3:
                self.features.add_module(f"transition{i + 1}", _Transition(num_features, num_features // 2))
                num_features //= 2
        self.features.add_module("norm5", nn.BatchNorm2d(num_features))
        self.classifier = nn.Linear(num_features, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)
            elif isinstance(m, nn.Linear):
                nn.init.constant_(m.bias, 0)
        self.register_buffer("op_threshs", op_threshs)
        self.pathologies = list(XRV_NIH_PATHOLOGIES)
        self.targets = self.pathologies
        self.weights = "densenet121-res224-nih"
        self.apply_sigmoid = False
        self.upsample = nn.Upsample(size=(224, 224), mode="bilinear", align_corners=False)

    def features2(self, x: torch.Tensor) -> torch.Tensor:
        features = self.features(x)
        out = F.relu(features, inplace=True)
        return F.adaptive_avg_pool2d(out, (1, 1)).view(features.size(0), -1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.classifier(self.features2(x))
        if self.op_threshs is not None:
            out = op_norm(torch.sigmoid(out), self.op_threshs)
        return out


def op_norm(outputs: torch.Tensor, op_threshs: torch.Tensor) -> torch.Tensor:
    """xrv.models.op_norm: each threshold -> 0.5, NaN thresholds -> 0.5 everywhere."""
    op_threshs = op_threshs.expand(outputs.shape[0], -1)
    out = torch.zeros(outputs.shape) + 0.5
    leq = (outputs < op_threshs) & ~torch.isnan(op_threshs)
    gt = ~(outputs < op_threshs) & ~torch.isnan(op_threshs)
    out[leq] = outputs[leq] / (op_threshs[leq] * 2)
    out[gt] = 1.0 - ((1.0 - outputs[gt]) / ((1 - op_threshs[gt]) * 2))
    return out


XRV_CLASSES = (DenseNet, _DenseBlock, _DenseLayer, _Transition)


def save_as_torchxrayvision(model: DenseNet, path: Path) -> None:
    """``torch.save(model)`` as if the classes lived in ``torchxrayvision.models``; then forget them."""
    package, module = types.ModuleType("torchxrayvision"), types.ModuleType("torchxrayvision.models")
    package.models = module
    saved = {cls: cls.__module__ for cls in XRV_CLASSES}
    try:
        for cls in XRV_CLASSES:
            cls.__module__ = module.__name__
            setattr(module, cls.__name__, cls)
        sys.modules.update({"torchxrayvision": package, "torchxrayvision.models": module})
        torch.save(model, path)
    finally:
        sys.modules.pop("torchxrayvision", None)
        sys.modules.pop("torchxrayvision.models", None)
        for cls, name in saved.items():
            cls.__module__ = name


# ------------------------------------------------------------------------------------ original pipelines


def image_u8() -> np.ndarray:
    return np.asarray(Image.open(IMAGE).convert("L"))


def pixels() -> np.ndarray:
    """Our reader's output for an 8-bit PNG: display pixels in [0, 1]."""
    return image_u8().astype(np.float32) / 255.0


IMAGENET = T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])


def arnoweng_input(tencrop: bool) -> torch.Tensor:
    """arnoweng/CheXNet: PIL RGB, Resize(256), TenCrop(224) (or CenterCrop), ToTensor, Normalize."""
    image = Image.open(IMAGE).convert("RGB")
    if tencrop:
        crops = T.TenCrop(224)(T.Resize(256)(image))
        return torch.stack([IMAGENET(T.ToTensor()(c)) for c in crops])
    return T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(), IMAGENET])(image)[None]


def xrv_input(maxval: float = 255.0) -> torch.Tensor:
    """xrv: datasets.normalize(img, 255), XRayCenterCrop, XRayResizer(224, engine='cv2')."""
    img = (2 * (image_u8().astype(np.float32) / maxval) - 1.0) * 1024
    img = img[None, :, :]
    _, y, x = img.shape
    crop = min(y, x)
    top, left = y // 2 - crop // 2, x // 2 - crop // 2
    img = img[:, top : top + crop, left : left + crop]
    img = cv2.resize(img[0], (224, 224), interpolation=cv2.INTER_AREA).reshape(1, 224, 224).astype(np.float32)
    return torch.from_numpy(img)[None]


@torch.no_grad()
def spread_head(linear: nn.Linear, pooled_reference: torch.Tensor, seed: int) -> None:
    """N(0, 1) weights, bias centred on another image's pooled features: outputs spread over (0, 1)."""
    gen = torch.Generator().manual_seed(seed)
    linear.weight.copy_(torch.randn(linear.weight.shape, generator=gen))
    linear.bias.copy_(-(linear.weight @ pooled_reference))


def pooled(features: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return F.adaptive_avg_pool2d(F.relu(features(x)), 1).flatten(1).mean(0)


# ------------------------------------------------------------------------------------ our pipeline


def our_input(card: ModelCard) -> torch.Tensor:
    """inference.runtime.preprocess on our reader's pixels, as the predictor feeds the network."""
    return torch.from_numpy(preprocess.prepare(pixels(), card.preprocessing, card.input_size))


@torch.no_grad()
def our_probabilities(model: nn.Module, batch: list[torch.Tensor]) -> np.ndarray:
    """Forward + sigmoid, one row per input (batched: DenseNet-121 on 2 shared cores is slow)."""
    return torch.sigmoid(model(torch.stack(batch))).numpy()


# ------------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="session")
def arnoweng_model() -> ArnowengDenseNet121:
    torch.manual_seed(1)
    model = ArnowengDenseNet121(14).eval()
    flipped = np.ascontiguousarray(pixels()[::-1, ::-1])
    reference = torch.from_numpy(preprocess.chexnet(flipped))[None]
    with torch.no_grad():
        spread_head(model.densenet121.classifier[0], pooled(model.densenet121.features, reference), seed=1)
    return model


@pytest.fixture(scope="session")
def chexnet_checkpoint(arnoweng_model: ArnowengDenseNet121, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("arnoweng") / "model.pth.tar"
    torch.save(arnoweng_checkpoint(arnoweng_model), path)
    return path


@pytest.fixture(scope="session")
def chexnet_package(chexnet_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("pkg") / "chexnet"
    import_checkpoint("chexnet", chexnet_checkpoint, dest, name="chexnet-test", version="1")
    return dest


@pytest.fixture(scope="session")
def chexnet_outputs(arnoweng_model: ArnowengDenseNet121, chexnet_package: Path) -> dict[str, np.ndarray]:
    """Original pipeline, and the package on: the original input, ours, and a wrong one."""
    original_input = arnoweng_input(tencrop=False)
    with torch.no_grad():
        original = arnoweng_model(original_input)[0].numpy()  # the Sigmoid is in arnoweng's classifier
    card, model = load_package(chexnet_package)
    crop = preprocess.center_crop(preprocess.chexnet_8bit(pixels(), 224), 224).astype(np.float32) / 255.0
    no_imagenet_norm = torch.from_numpy(np.repeat(crop[None], 3, axis=0))
    same, ours, wrong = our_probabilities(model, [original_input[0], our_input(card), no_imagenet_norm])
    return {"original": original, "same_input": same, "ours": ours, "wrong": wrong}


@pytest.fixture(scope="session")
def xrv_model() -> DenseNet:
    torch.manual_seed(2)
    threshs = torch.tensor([0.1 + 0.04 * i for i in range(14)] + [math.nan] * 4)
    model = DenseNet(op_threshs=threshs).eval()
    flipped = np.ascontiguousarray(pixels()[::-1, ::-1])
    reference = torch.from_numpy(preprocess.xrv(flipped))[None]
    with torch.no_grad():
        spread_head(model.classifier, pooled(model.features, reference), seed=2)
    return model


@pytest.fixture(scope="session")
def xrv_pickle(xrv_model: DenseNet, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("xrv") / "nih-densenet121-d121-tw-lr001-rot45-tr15-sc15-seed0-best.pt"
    save_as_torchxrayvision(xrv_model, path)
    return path


@pytest.fixture(scope="session")
def xrv_state_dict(xrv_model: DenseNet, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("xrv") / "xrv-state.pth"
    torch.save(xrv_model.state_dict(), path)
    return path


@pytest.fixture(scope="session")
def xrv_package(xrv_pickle: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("pkg") / "xrv"
    import_checkpoint("xrv", xrv_pickle, dest)
    return dest


@pytest.fixture(scope="session")
def xrv_outputs(xrv_model: DenseNet, xrv_package: Path) -> dict[str, np.ndarray]:
    """Original probabilities sigmoid(logit) and op_norm display scores; ours; a wrong input range."""
    with torch.no_grad():
        logits = xrv_model.classifier(xrv_model.features2(xrv_input()))
    original = torch.sigmoid(logits)
    display = op_norm(original, xrv_model.op_threshs)  # what xrv's forward returns
    card, model = load_package(xrv_package)
    x = our_input(card)
    ours, wrong = our_probabilities(model, [x, x / 2048.0 + 0.5])  # wrong: [0, 1] instead of ±1024
    return {"original": original[0].numpy(), "display": display[0].numpy(), "ours": ours, "wrong": wrong}


# ------------------------------------------------------------------------------------ CheXNet


def test_old_key_names_are_renamed() -> None:
    old = "features.denseblock2.denselayer11.conv.2.weight"
    assert checkpoints.rename_old_densenet_key(old) == "features.denseblock2.denselayer11.conv2.weight"
    assert (
        checkpoints.rename_old_densenet_key("features.transition1.norm.weight")
        == "features.transition1.norm.weight"
    )
    assert old_torchvision_key("features.denseblock1.denselayer1.norm1.running_var").endswith(
        "norm.1.running_var"
    )


def test_chexnet_card(chexnet_package: Path, chexnet_checkpoint: Path) -> None:
    card = read_card(chexnet_package)
    assert [lab.name for lab in card.labels] == list(CHESTXRAY14)
    assert all(lab.trained and lab.operating_points == {UNCALIBRATED: 0.5} for lab in card.labels)
    assert card.default_operating_point == UNCALIBRATED  # stated on the card, not a silent fallback
    assert card.preprocessing is Preprocessing.CHEXNET and card.input_size == 224
    assert "re-derive" in card.description
    assert sha256_of(chexnet_checkpoint) in card.recipe


def test_chexnet_conversion_parity(chexnet_outputs: dict[str, np.ndarray]) -> None:
    """The imported weights reproduce the original module on the original pipeline's input."""
    original = chexnet_outputs["original"]
    assert original.std() > 0.15, f"outputs must spread for parity to mean anything: {original}"
    assert np.abs(chexnet_outputs["same_input"] - original).max() < 1e-4
    # The check can fail: RGB in [0, 1] without the ImageNet normalisation moves the outputs.
    assert np.abs(chexnet_outputs["wrong"] - original).max() > 0.1


def test_chexnet_end_to_end_parity(chexnet_outputs: dict[str, np.ndarray]) -> None:
    """Original pipeline (PIL + torchvision transforms) vs ours (inference.runtime.preprocess), real image.

    A resize filter other than PIL's bilinear (e.g. cv2 INTER_AREA) measured max |dp| 0.069 here.
    """
    assert np.abs(chexnet_outputs["ours"] - chexnet_outputs["original"]).max() < PARITY


def test_chexnet_saved_by_torch_041_parity(
    arnoweng_model: ArnowengDenseNet121, chexnet_outputs: dict[str, np.ndarray], tmp_path: Path
) -> None:
    """torch 0.4.1 wrote BatchNorm counters under the old names too: they import like the rest."""
    checkpoint = arnoweng_checkpoint(arnoweng_model, counters=True)
    counter = "module.densenet121.features.denseblock1.denselayer1.norm.1.num_batches_tracked"
    assert counter in checkpoint["state_dict"]
    torch.save(checkpoint, tmp_path / "model.pth.tar")
    import_checkpoint("chexnet", tmp_path / "model.pth.tar", tmp_path / "pkg")
    card, model = load_package(tmp_path / "pkg")
    assert int(model.features.denseblock1.denselayer1.norm1.num_batches_tracked) == 1000  # mapped
    (ours,) = our_probabilities(model, [our_input(card)])
    assert np.abs(ours - chexnet_outputs["original"]).max() < PARITY


def test_tencrop_is_the_reference_crop_set() -> None:
    """TenCrop flips the whole image and crops again; we flip each crop: the same ten crops."""
    resized = T.Resize(256)(Image.open(IMAGE).convert("L"))
    theirs = sorted(np.asarray(c).tobytes() for c in T.TenCrop(224)(resized))
    ours = sorted(np.ascontiguousarray(c).tobytes() for c in preprocess.ten_crop(np.asarray(resized), 224))
    assert ours == theirs


def test_chexnet_without_rename_fails_clearly(
    chexnet_checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(chexnet_format, "rename_old_densenet_key", lambda key: key)
    with pytest.raises(CheckpointError, match=r"missing key.*norm1.*unexpected key.*norm\.1"):
        import_checkpoint("chexnet", chexnet_checkpoint, tmp_path / "pkg")


def test_chexnet_missing_key_is_listed(chexnet_checkpoint: Path, tmp_path: Path) -> None:
    ckpt = torch.load(chexnet_checkpoint, weights_only=True)
    del ckpt["state_dict"]["module.densenet121.features.norm5.weight"]
    ckpt["state_dict"]["module.densenet121.extra.weight"] = torch.zeros(1)
    torch.save(ckpt, tmp_path / "broken.pth.tar")
    with pytest.raises(CheckpointError, match=r"1 missing key\(s\) \[features.norm5.weight\].*extra.weight"):
        import_checkpoint("chexnet", tmp_path / "broken.pth.tar", tmp_path / "pkg")


# ------------------------------------------------------------------------------------ torchxrayvision


def test_xrv_pickle_loads_without_torchxrayvision(xrv_pickle: Path) -> None:
    assert "torchxrayvision" not in sys.modules
    obj = checkpoints.read_checkpoint(xrv_pickle)
    assert type(obj).__module__ == "inference.models.safe_unpickle"
    assert obj.pathologies == XRV_NIH_PATHOLOGIES


def test_xrv_card(xrv_package: Path, xrv_model: DenseNet) -> None:
    card = read_card(xrv_package)
    assert [lab.name for lab in card.labels] == list(XRV_DEFAULT)  # one per output, in output order
    assert card.shown_labels == XRV_DEFAULT[:14]
    assert [lab.trained for lab in card.labels] == [True] * 14 + [False] * 4
    assert card.preprocessing is Preprocessing.XRV and card.default_operating_point == XRV_OP
    expected = xrv_model.op_threshs[:14].tolist()
    assert list(card.thresholds().values()) == pytest.approx(expected)
    assert all(not lab.operating_points for lab in card.labels[14:])


def test_xrv_parity(xrv_outputs: dict[str, np.ndarray]) -> None:
    original = xrv_outputs["original"]
    assert original.std() > 0.15, f"outputs must spread for parity to mean anything: {original}"
    assert np.abs(xrv_outputs["ours"] - original).max() < PARITY
    # The check can fail: input in [0, 1] instead of [-1024, 1024] moves the outputs.
    assert np.abs(xrv_outputs["wrong"] - original).max() > 0.1


def test_xrv_operating_points_match_op_norm(xrv_outputs: dict[str, np.ndarray], xrv_package: Path) -> None:
    """xrv's op_norm puts each op_thresh at 0.5: our card thresholds must call the same findings."""
    thresholds = np.array(list(read_card(xrv_package).thresholds().values()))
    ours, display = xrv_outputs["ours"], xrv_outputs["display"]
    assert 0 < (display[:14] >= 0.5).sum() < 14
    np.testing.assert_array_equal(ours[:14] >= thresholds, display[:14] >= 0.5)
    np.testing.assert_allclose(display[14:], 0.5)  # untrained outputs: xrv neutralises them too


def test_xrv_state_dict_matches_pickle(xrv_state_dict: Path, xrv_package: Path, tmp_path: Path) -> None:
    card = import_checkpoint("xrv", xrv_state_dict, tmp_path / "pkg", labels=XRV_NIH_PATHOLOGIES)
    pickled = read_card(xrv_package)
    assert card.weights_sha256 == pickled.weights_sha256  # same weights, so the same outputs
    assert card.labels == pickled.labels  # op_threshs come from the state dict's buffer


def test_xrv_state_dict_without_names_assumes_all_trained(xrv_state_dict: Path, tmp_path: Path) -> None:
    card = import_checkpoint("xrv", xrv_state_dict, tmp_path / "pkg")
    assert all(lab.trained for lab in card.labels)
    assert "--labels" in card.description


def test_chexnet_checkpoint_is_not_xrv(chexnet_checkpoint: Path, tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="no classifier weight"):
        import_checkpoint("xrv", chexnet_checkpoint, tmp_path / "pkg")


def test_xrv_state_dict_is_not_chexnet(xrv_state_dict: Path, tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"unexpected key\(s\) \[op_threshs\]; shape mismatch .*conv0"):
        import_checkpoint("chexnet", xrv_state_dict, tmp_path / "pkg")


# ------------------------------------------------------------------------------------ safety


class _Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_pickled_code_never_runs(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    torch.save({"state_dict": {"x": torch.zeros(1)}, "payload": _Payload(marker)}, tmp_path / "evil.pt")
    for kind in CHECKPOINT_FORMATS:
        with pytest.raises(CheckpointError, match="needs code from module 'builtins'"):
            import_checkpoint(kind, tmp_path / "evil.pt", tmp_path / kind)
    assert not marker.exists()


class TrainerState:
    """Any class of the code that wrote a checkpoint: unpickling it would need that code."""


def test_pickle_that_needs_code_says_what_is_accepted(tmp_path: Path) -> None:
    torch.save({"state_dict": {"x": torch.zeros(1)}, "trainer": TrainerState()}, tmp_path / "model.pth.tar")
    with pytest.raises(CheckpointError) as caught:
        import_checkpoint("chexnet", tmp_path / "model.pth.tar", tmp_path / "pkg")
    message = str(caught.value)
    module = TrainerState.__module__
    assert f"model.pth.tar is a pickle that needs code from module '{module}'" in message
    assert (
        "only loads tensors and plain containers" in message
        and "Re-save the weights as a state dict" in message
    )
    assert "weights_only" not in message and "add_safe_globals" not in message


def test_garbage_and_missing_files(tmp_path: Path) -> None:
    (tmp_path / "garbage.pt").write_bytes(b"not a checkpoint at all\n" * 10)
    with pytest.raises(CheckpointError, match="garbage.pt: not a checkpoint"):
        import_checkpoint("xrv", tmp_path / "garbage.pt", tmp_path / "pkg")
    with pytest.raises(CheckpointError, match="no such file"):
        import_checkpoint("chexnet", tmp_path / "absent.pth.tar", tmp_path / "pkg")


def test_existing_package_is_not_overwritten(chexnet_checkpoint: Path, chexnet_package: Path) -> None:
    with pytest.raises(CheckpointError, match="--force"):
        import_checkpoint("chexnet", chexnet_checkpoint, chexnet_package)


def test_xrv_labels_rules() -> None:
    labels, notes = xrv_labels(3, ["Pleural Effusion", "", "Mass"], [0.2, math.nan, math.nan])
    assert [lab.name for lab in labels] == ["Effusion", "output_1", "Mass"]  # canonical names
    assert [lab.trained for lab in labels] == [True, False, True]
    assert labels[0].operating_points == {XRV_OP: 0.2, "youden": 0.2}
    assert labels[2].operating_points == {XRV_OP: 0.5} and not labels[1].operating_points
    assert any("Mass" in note for note in notes)
    labels, notes = xrv_labels(2, ["Effusion", ""], None)
    assert labels[0].operating_points == {UNCALIBRATED: 0.5} and any(UNCALIBRATED in note for note in notes)
    with pytest.raises(CheckpointError, match="duplicate"):
        xrv_labels(2, ["Effusion", "Pleural Effusion"], None)
    with pytest.raises(CheckpointError, match="--labels"):
        xrv_labels(5, None, None)
