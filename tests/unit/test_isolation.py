"""Every test has its own data folder and study store; a test that writes to the user's data folder or
to the bundled model package fails."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from inference.store import Store, store_path
from inference.store.location import data_dir

TESTS = Path(__file__).parents[1]


@pytest.mark.parametrize("run", ["first", "second"])
def test_each_test_starts_with_an_empty_store_of_its_own(run: str, tmp_path_factory: pytest.TempPathFactory):
    temp_root = tmp_path_factory.getbasetemp()
    assert temp_root in store_path().parents and temp_root in data_dir().parents
    with Store(store_path()) as store:
        assert store.images() == []  # the other run's image is in its own store
        store.log("opened", f"study-{run}")
        assert len(store.audit()) == 1


def _run_inner(tmp_path: Path, body: str) -> subprocess.CompletedProcess[str]:
    """Run one test of ``body`` under this suite's conftest, as a user whose home is ``tmp_path``."""
    (tmp_path / "conftest.py").write_text(
        "import importlib.util\nimport sys\n"
        f"sys.path.insert(0, {str(TESTS)!r})  # the suite's helper modules, as pytest finds them there\n"
        f"spec = importlib.util.spec_from_file_location('suite_conftest', {str(TESTS / 'conftest.py')!r})\n"
        "suite = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(suite)\n"
        "globals().update({k: v for k, v in vars(suite).items() if not k.startswith('__')})\n"
    )
    (tmp_path / "test_inner.py").write_text(textwrap.dedent(body))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CXR_TRIAGE_", "XDG_"))}
    env["HOME"] = str(tmp_path / "home")
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path / "test_inner.py")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_a_test_writing_to_the_users_data_folder_fails(tmp_path: Path):
    outcome = _run_inner(
        tmp_path,
        """
        import platformdirs

        def test_writes_where_it_must_not():
            folder = platformdirs.user_data_path("cxr-triage", appauthor=False)
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "studies.sqlite").write_bytes(b"x")
        """,
    )
    assert outcome.returncode == 1, outcome.stdout
    assert "the test wrote to" in outcome.stdout and "studies.sqlite" in outcome.stdout


def test_a_test_writing_into_the_model_package_fails(tmp_path: Path):
    from inference.bundled import DEMO_MODEL

    probe = DEMO_MODEL / f"written-by-a-test-{os.getpid()}.tmp"
    try:
        outcome = _run_inner(
            tmp_path,
            f"""
            from pathlib import Path

            def test_writes_where_it_must_not():
                Path({str(probe)!r}).write_text("x")
            """,
        )
    finally:
        probe.unlink(missing_ok=True)
    assert outcome.returncode == 1, outcome.stdout
    assert "the test wrote to" in outcome.stdout and probe.name in outcome.stdout
