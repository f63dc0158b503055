"""A two-node Ray cluster on loopback, started and stopped here: ``batch --ray HOST:PORT`` scores with
actors on both nodes.

Two nodes on one machine: Ray's own ``ray.cluster_utils.Cluster`` starts a head and a second node,
each with its own raylet, object store and one CPU (so two one-CPU actors must take one node each).
``ray start --address`` cannot be used here: with everything on 127.0.0.1
(``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``) the CLI refuses to join a second node, and without it Ray
binds the machine's network address instead of loopback.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

NODE = {"num_cpus": 1, "object_store_memory": 80 * 1024 * 1024}


@pytest.fixture
def cluster() -> Iterator[str]:
    from ray.cluster_utils import Cluster

    nodes = Cluster(initialize_head=True, head_node_args={**NODE, "include_dashboard": False})
    try:
        nodes.add_node(**NODE)
        nodes.wait_for_nodes()
        assert nodes.address.startswith("127.0.0.1:")
        yield nodes.address
    finally:
        nodes.shutdown()


def test_batch_on_a_two_node_cluster_scores_on_both_nodes(cluster: str, images: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run = subprocess.run(
        [sys.executable, "-m", "inference.cli.main", "batch", str(images), "--ray", cluster, "--workers", "2",
         "--batch-size", "1", "--db", str(tmp_path / "db.sqlite"), "--out", str(out)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "2 workers on 2 node(s)" in run.stdout
    nodes = next(line for line in run.stdout.splitlines() if line.startswith("Scored on node(s):"))
    assert len(nodes.split(":", 1)[1].split(",")) == 2
    assert json.loads((out / "worklist.json").read_text())["run"]["scored"] == 6
