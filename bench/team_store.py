"""The team store's two figures (issue #23): studies/s written by three concurrent writers (as
``listen``, ``batch`` and ``triage`` write: each study's image recorded, its results saved, one audit
event), into PostgreSQL beside the same into one SQLite file; and the time from a commit that records
an image to a listening viewer's wake-up (LISTEN/NOTIFY), then its catch-up read.

Without ``--db`` a throwaway PostgreSQL cluster is started as the tests start one (Debian's
``postgresql``, ``fsync=off``: the figures are the store's and the network stack's, not the disk's).

    .venv/bin/python bench/team_store.py [--db postgresql://ADMIN@HOST:PORT/DBNAME] [--studies N]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from machine import cpu  # noqa: E402

from inference.api import ImageMeta, ScanEntry  # noqa: E402
from inference.store import Store  # noqa: E402

WRITERS = ("listen", "batch", "triage")
WRITER = """
import sys, time
from pathlib import Path
from inference.api import ImageMeta, ScanEntry, Status
from inference.store import ImageResult, Store
labels = [f"finding{k}" for k in range(14)]
store = Store(sys.argv[1])
tag, count = sys.argv[2], int(sys.argv[3])
sys.stdin.readline()  # the three start together
for i in range(count):
    uid = f"{tag}.{i}"
    meta = ImageMeta(path=Path(f"/x/{uid}.dcm"), study_uid=uid, sop_uid=uid + ".1")
    (image,) = store.record([ScanEntry(meta=meta)])
    store.save_results([ImageResult(image, Status.SCORED, {k: (i % 97) / 97 for k in labels})], "ab" * 32)
    store.log("scored-by-" + tag, study_uid=uid)
"""


@contextlib.contextmanager
def server(url: str | None) -> Iterator[str]:
    if url:
        yield url
        return
    sys.path.insert(0, str(ROOT / "tests" / "store"))
    from postgres_cluster import running_cluster

    with running_cluster() as cluster, cluster.admin() as admin:
        admin.execute("CREATE DATABASE bench")
        yield cluster.url("bench")


def three_writers(target: str, studies: int) -> float:
    """Studies per second, all three writers together, from the start signal to the last commit."""
    Store(target).close()
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, target, tag, str(studies)], stdin=subprocess.PIPE,
                         text=True, cwd=ROOT)
        for tag in WRITERS
    ]  # fmt: skip
    time.sleep(1.0)  # every writer connected and waiting
    start = time.perf_counter()
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    if any(p.wait() != 0 for p in procs):
        raise SystemExit("a writer failed")
    return 3 * studies / (time.perf_counter() - start)


def notify_latency(url: str, arrivals: int) -> tuple[list[float], list[float]]:
    """Per arrival: milliseconds from the commit returning to the listener's wake-up (negative: it woke
    before the writer's call returned), and to the catch-up read holding the image."""
    from inference.store.postgres_backend import ArrivalListener

    woke: list[float] = []
    read: list[float] = []
    ready = threading.Event()
    done = threading.Event()

    def watch() -> None:
        with ArrivalListener(url) as listener, Store(url) as viewer:
            cursor = viewer.last_image_seq()
            ready.set()
            while len(read) < arrivals:
                if not listener.wait(5.0):
                    continue
                woke.append(time.perf_counter())
                cursor, _ = viewer.images_since(cursor)
                read.append(time.perf_counter())
                done.set()

    watcher = threading.Thread(target=watch)
    watcher.start()
    ready.wait()
    starts: list[float] = []
    with Store(url) as writer:
        for i in range(arrivals):
            done.clear()
            meta = ImageMeta(path=Path(f"/x/n{i}.dcm"), study_uid=f"n.{i}", sop_uid=f"n.{i}.1")
            writer.record([ScanEntry(meta=meta)])
            starts.append(time.perf_counter())
            done.wait(10)
    watcher.join()
    return ([(w - s) * 1000 for w, s in zip(woke, starts, strict=True)],
            [(r - s) * 1000 for r, s in zip(read, starts, strict=True)])  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--db", default=None, help="an administrator's postgresql:// URL (default: a throwaway cluster)"
    )
    parser.add_argument("--studies", type=int, default=300, help="per writer (default 300)")
    parser.add_argument("--arrivals", type=int, default=200, help="for the NOTIFY latency (default 200)")
    args = parser.parse_args()
    print(f"machine: {cpu()}")
    with server(args.db) as url:
        postgres = three_writers(url, args.studies)
        woke, read = notify_latency(url, args.arrivals)
    with tempfile.TemporaryDirectory() as folder:
        sqlite = three_writers(str(Path(folder) / "s.sqlite"), args.studies)
    print(f"three writers, {args.studies} studies each (record, 14 results, an audit event: 3 transactions):")
    ratio = postgres / sqlite
    print(f"  PostgreSQL {postgres:7.1f} studies/s   SQLite {sqlite:7.1f} studies/s   ratio {ratio:.2f}")
    for name, values in (("wake-up", woke), ("catch-up read done", read)):
        q = statistics.quantiles(values, n=20)
        median = statistics.median(values)
        print(f"commit -> {name}: median {median:.2f} ms, p95 {q[18]:.2f} ms (n={len(values)})")


if __name__ == "__main__":
    main()
