"""Shared fixtures. Qt's offscreen platform is set here so that no test needs a screen."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).parent.parent


@pytest.fixture(autouse=True, scope="session")
def private_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every test's default study store is a fresh file of this session, never the user's own."""
    path = tmp_path_factory.mktemp("store") / "studies.sqlite"
    os.environ["CXR_TRIAGE_DB"] = str(path)
    return path


@pytest.fixture(scope="session")
def random_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised CheXNet-convention model package (no trained model is needed)."""
    import torch

    from inference.api import LabelCard, ModelCard, Preprocessing, Task
    from inference.labels import CHESTXRAY14
    from inference.models.package import build_model, save_package

    torch.manual_seed(0)
    card = ModelCard(
        name="random-test-model",
        version="0.0.0",
        architecture="densenet121",
        task=Task.MULTILABEL,
        preprocessing=Preprocessing.CHEXNET,
        labels=tuple(
            LabelCard(
                name, operating_points={"high_sensitivity": 0.3, "youden": 0.5, "high_specificity": 0.7}
            )
            for name in CHESTXRAY14
        ),
        weights_sha256="",
    )
    package = tmp_path_factory.mktemp("random_package")
    save_package(package, card, build_model(card))
    return package


@pytest.fixture
def tiny_training():
    """A factory of the smallest real training run: the two-class Kermany fixture at 32 px, 2 epochs,
    its package and work folder under the given folder (keyword arguments override fields)."""
    from inference.train.config import TrainConfig

    def config(folder: Path, **overrides):
        return TrainConfig(
            data=[f"kermany={FIXTURES / 'train' / 'kermany'}"], out=folder / "pkg", work=folder / "work",
            input_size=32, epochs=2, batch_size=4, val_fraction=0.34, test_fraction=0.0, min_positives=1,
            threads=1, n_boot=50, **overrides,
        )  # fmt: skip

    return config
