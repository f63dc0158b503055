"""Similar cases: do a study's nearest neighbours share its Pneumonia label, and how fast is a query?

1. Quality, on the bundled demo model's held-out adult test split (NIH ChestX-ray14; the split the
   model was trained with, rebuilt from the data folder with the training run's seed and fractions):
   every test image is embedded through the product path (prepare_image -> service), and for each one
   the top-5 neighbours (its own patient's images left out, as the product does) are compared
   with it on the Pneumonia label, against the base rate (the share of all other patients' test
   images that share its label: what random neighbours would give).
2. Speed, on synthetic embeddings (1024-d, clustered): per-query time of the product's index at
   1,000 studies (exact, numpy) and 100,000 (HNSW, faiss), with exact numpy at 100,000 and HNSW
   recall@5 for comparison; build, save and load times. Target: under 50 ms a query at 100,000.

    .venv/bin/python bench/similar_eval.py DATA_DIR [--model PKG] [--skip-quality] [--sizes 1000 100000]

DATA_DIR is the public data folder (``nih-pneumonia-subset/``, ``kermany-pediatric-224/``); it is
read only by this script, run by hand.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from inference.bundled import DEMO_MODEL  # noqa: E402
from inference.similar.index import StudyIndex  # noqa: E402

K = 5
DIM = 1024
SPLIT = {"val_fraction": 0.15, "test_fraction": 0.2, "seed": 0}  # as models/cxr-demo-densenet121/retrain.sh


def test_split(data: Path) -> list:
    """The demo model's test split, both sources (every source is needed to replay the seeded split)."""
    from inference.fit.train.datasets import exclude, read_dataset
    from inference.fit.train.splits import split_by_patient

    class_map = {"NORMAL": "", "PNEUMONIA": "Pneumonia"}
    samples = read_dataset(f"nih={data / 'nih-pneumonia-subset' / 'labels.csv'}", class_map)
    samples += read_dataset(f"kermany={data / 'kermany-pediatric-224' / 'train'}", class_map)
    samples, _ = exclude(samples, {f.name for f in (ROOT / "resources" / "samples").iterdir()})
    test = split_by_patient(samples, **SPLIT)["test"]
    return [samples[i] for i in test]


def adult_test_split(data: Path) -> list:
    """The NIH images of the demo model's test split."""
    return [s for s in test_split(data) if s.source == "nih"]


def embed(samples: list, model: Path) -> np.ndarray:
    from inference.runtime.network_input import prepare_image
    from inference.runtime.service import load_service

    service = load_service(model, device="cpu", precision="fp32")
    vectors = []
    for start in range(0, len(samples), 16):
        images = [prepare_image(s.path, service) for s in samples[start : start + 16]]
        vectors += [p.embedding for p in service.predict(images)]
    return np.stack(vectors)


def quality(data: Path, model: Path) -> None:
    samples = adult_test_split(data)
    labels = np.array(["Pneumonia" in s.findings for s in samples])
    patients = [s.patient for s in samples]
    started = time.perf_counter()
    vectors = embed(samples, model)
    print(f"adult test split: {len(samples)} images, {len(set(patients))} patients, "
          f"{labels.sum()} Pneumonia; embedded in {time.perf_counter() - started:.0f} s")  # fmt: skip
    index = StudyIndex("bench")
    uids = [str(i) for i in range(len(samples))]
    index.upsert(dict(zip(uids, vectors, strict=True)), mark=1)
    same_patient: dict[str, set[str]] = defaultdict(set)
    for uid, patient in zip(uids, patients, strict=True):
        same_patient[patient].add(uid)
    agree, base = [], []
    for i in range(len(uids)):
        excluded = same_patient[patients[i]]
        found = [int(u) for u, _ in index.search(vectors[i], K, excluded)]
        agree.append(float(np.mean(labels[found] == labels[i])))
        others = [j for j in range(len(uids)) if str(j) not in excluded]
        base.append(float(np.mean(labels[others] == labels[i])))
    agree_a, base_a = np.array(agree), np.array(base)
    for name, mask in (("all", np.ones_like(labels)), ("Pneumonia", labels), ("no Pneumonia", ~labels)):
        print(f"  top-{K} neighbours sharing the query's Pneumonia label, {name} queries (n={mask.sum()}): "
              f"{agree_a[mask].mean():.3f} vs base rate {base_a[mask].mean():.3f}")  # fmt: skip


def clustered(n: int, rng: np.random.Generator, clusters: int = 200) -> np.ndarray:
    centres = rng.standard_normal((clusters, DIM), dtype=np.float32)
    vectors = centres[rng.integers(0, clusters, n)] + 0.6 * rng.standard_normal((n, DIM), dtype=np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def query_times(index: StudyIndex, queries: np.ndarray) -> list[float]:
    """Milliseconds per query, after a few untimed ones (BLAS starts its threads on first use)."""
    for q in queries[:10]:
        index.search(q, K)
    times = []
    for q in queries:
        started = time.perf_counter()
        index.search(q, K, exclude={"0", "1", "2"})
        times.append((time.perf_counter() - started) * 1000)
    return times


def speed(sizes: list[int]) -> None:
    rng = np.random.default_rng(0)
    for n in sizes:
        vectors = clustered(n, rng)
        batch = {str(i): v for i, v in enumerate(vectors)}
        queries = vectors[rng.integers(0, n, 200)]
        started = time.perf_counter()
        index = StudyIndex("bench")
        index.upsert(batch, mark=1)
        built = time.perf_counter() - started
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "bench.idx"
            started = time.perf_counter()
            index.save(path)
            saved = time.perf_counter() - started
            started = time.perf_counter()
            index = StudyIndex.load(path, "bench") or index
            loaded = time.perf_counter() - started
        times = query_times(index, queries)
        print(f"{n:>7,} studies, {index.kind}: query median {statistics.median(times):.2f} ms, "
              f"p95 {np.percentile(times, 95):.2f} ms; build {built:.1f} s, save {saved:.1f} s, "
              f"load {loaded:.1f} s")  # fmt: skip
        if index.kind == "hnsw":
            exact = StudyIndex("bench", exact_max=n)
            exact.upsert(batch, mark=1)
            exact_times = query_times(exact, queries[:50])
            recall = np.mean([
                len({u for u, _ in index.search(q, K)} & {u for u, _ in exact.search(q, K)}) / K
                for q in queries[:100]
            ])  # fmt: skip
            print(f"{n:>7,} studies, exact numpy for comparison: query median "
                  f"{statistics.median(exact_times):.2f} ms; HNSW recall@{K} {recall:.3f}")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", type=Path, help="the public data folder (nih-pneumonia-subset/, ...)")
    parser.add_argument("--model", type=Path, default=DEMO_MODEL)
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--sizes", type=int, nargs="*", default=[1000, 100_000])
    args = parser.parse_args()
    if not args.skip_quality:
        quality(args.data, args.model)
    speed(args.sizes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
