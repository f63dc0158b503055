"""Shared fixtures. Qt's offscreen platform is set here so that no test needs a screen."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import keyring
import platformdirs
import pytest
from keyring.backends import fail, null
from memory_keyring import MemoryKeyring

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).parent.parent


# What no test may write to: the user's own data folder (as it would be without the variables the
# fixtures below set) and the bundled model package.
USER_DATA = Path(platformdirs.user_data_path("cxr-triage", appauthor=False))
MODELS = REPO / "models"


@pytest.fixture(autouse=True, scope="session")
def session_data(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The data folder of session-scoped fixtures (each test then gets its own, below), no credential
    store; and the user's own data folder is the same after the whole session as before it."""
    home = tmp_path_factory.mktemp("session-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CXR_TRIAGE_HOME", str(home))
        patch.setenv("CXR_TRIAGE_DB", str(home / "studies.sqlite"))
        # Never the tester's own credential store, in this process or in the commands tests start:
        # no store at all, unless a test sets its own in-memory one.
        patch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
        keyring.set_keyring(null.Keyring())
        before = _files(USER_DATA)
        yield home
    assert _files(USER_DATA) == before, f"the test session wrote to {USER_DATA}"


@pytest.fixture(autouse=True)
def private_data(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own data folder and study store, never the user's own nor another test's,
    so whether a test scores or reuses a result never depends on the order tests run in."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("CXR_TRIAGE_HOME", str(home))
    monkeypatch.setenv("CXR_TRIAGE_DB", str(home / "studies.sqlite"))
    return home


@pytest.fixture(autouse=True)
def untouched_user_data_and_models() -> Iterator[None]:
    """Fails the test that created, changed or deleted a file in the user's data folder or under the
    bundled ``models/`` folder."""
    before = {folder: _files(folder) for folder in (USER_DATA, MODELS)}
    yield
    for folder, files in before.items():
        after = _files(folder)
        changed = sorted(str(p) for p in files.keys() | after.keys() if files.get(p) != after.get(p))
        if changed:
            pytest.fail(f"the test wrote to {folder}: {', '.join(changed[:5])}")


def _files(folder: Path) -> dict[Path, tuple[int, int]]:
    """(size, mtime in ns) of every file under ``folder``."""
    if not folder.is_dir():
        return {}
    return {p: (st.st_size, st.st_mtime_ns) for p in folder.rglob("*") if (st := p.lstat()) and p.is_file()}


@pytest.fixture(scope="session")
def random_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised CheXNet-convention model package (no trained model is needed), with its
    ONNX export, as every package made by train or model import."""
    import torch

    from inference.api import LabelCard, ModelCard, Preprocessing, Task
    from inference.fit.package_export import add_export
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
    add_export(package)
    return package


@pytest.fixture
def tiny_training():
    """A factory of the smallest real training run: the two-class Kermany fixture at 32 px, 2 epochs,
    its package and work folder under the given folder (keyword arguments override fields)."""
    from inference.fit.train.config import TrainConfig

    def config(folder: Path, **overrides):
        return TrainConfig(
            data=[f"kermany={FIXTURES / 'train' / 'kermany'}"], out=folder / "pkg", work=folder / "work",
            input_size=32, epochs=2, batch_size=4, val_fraction=0.34, test_fraction=0.0, min_positives=1,
            threads=1, n_boot=50, **overrides,
        )  # fmt: skip

    return config


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    """An empty in-memory credential store for the test."""
    before = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(before)


@pytest.fixture
def no_keyring() -> Iterator[None]:
    """No credential store at all (keyring's fail backend), as on a headless server."""
    before = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    yield
    keyring.set_keyring(before)
