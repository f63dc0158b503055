"""Naive vs product inference on the same real images, side by side in one run.

    .venv/bin/python bench/inference_speed.py [--model DIR] [--images N] [--rounds R]

naive   : for each image: read, CheXNet preprocessing, eager fp32 forward at batch 1.
product : ``inference.scoring.score_studies`` with the model service (batched, channels-last,
          read-ahead thread, bf16 only where the hardware has it and parity holds).
Both end to end (decoding included) and model only (the same preprocessed inputs, forward
passes alone). Rounds alternate so that machine noise hits both alike; medians are printed, with
the ratios, and Grad-CAM seconds per finding.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from inference.api import Status
from inference.bundled import DEMO_MODEL, SAMPLES
from inference.io import read_image, scan
from inference.preprocess import prepare
from inference.scoring import score_studies
from inference.service import load_service


def naive(paths: list[Path], model: torch.nn.Module, card) -> None:
    with torch.no_grad():
        for path in paths:
            x = torch.from_numpy(prepare(read_image(path).pixels, card.preprocessing, card.input_size)[None])
            model(x).sigmoid()


def product(entries, service, batch_size: int) -> None:
    for _ in score_studies(entries, service, batch_size=batch_size):
        pass


def model_only(inputs: torch.Tensor, model: torch.nn.Module, service, batch_size: int) -> dict[str, float]:
    """Seconds for the forward passes alone: naive batch 1 vs the service's batched forward."""
    with torch.inference_mode():
        start = time.perf_counter()
        for x in inputs.split(1):
            model(x)
        naive_s = time.perf_counter() - start
        start = time.perf_counter()
        for x in inputs.split(batch_size):
            service._forward(x.contiguous(memory_format=torch.channels_last), torch.float32)
        return {"naive": naive_s, "product": time.perf_counter() - start}


def random_package(folder: Path) -> Path:
    from inference.api import LabelCard, ModelCard, Preprocessing, Task
    from inference.labels import CHESTXRAY14
    from inference.models.package import build_model, save_package

    card = ModelCard("random", "0", "densenet121", Task.MULTILABEL, Preprocessing.CHEXNET,
                     tuple(LabelCard(n) for n in CHESTXRAY14), "")  # fmt: skip
    save_package(folder, card, build_model(card))
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--model", type=Path, default=DEMO_MODEL if (DEMO_MODEL / "card.json").is_file() else None
    )
    parser.add_argument("--images", type=int, default=32, help="images per round (samples repeated)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--cam-findings", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        package = args.model or random_package(Path(tmp))
        service = load_service(package)
        eligible = [e for e in scan([SAMPLES]) if e.status is Status.SCORED]
        # Distinct study UIDs so that every copy is its own study, as in a real worklist.
        entries = [
            type(e)(meta=type(e.meta)(**{**e.meta.__dict__, "study_uid": f"{e.meta.study_uid}#{i}"}))
            for i, e in ((i, eligible[i % len(eligible)]) for i in range(args.images))
        ]
        paths = [e.meta.path for e in entries]
        from inference.models.package import load_package

        card, eager = load_package(package)  # a separate fp32, contiguous-layout copy for the naive path
        naive(paths[:2], eager, card)  # warm-up both
        product(entries[:2], service, args.batch_size)
        times: dict[str, list[float]] = {"naive": [], "product": []}
        for _ in range(args.rounds):
            for name, run in (("naive", lambda: naive(paths, eager, card)),
                              ("product", lambda: product(entries, service, args.batch_size))):  # fmt: skip
                start = time.perf_counter()
                run()
                times[name].append(time.perf_counter() - start)
        inputs = torch.from_numpy(
            np.stack([prepare(read_image(p).pixels, card.preprocessing, card.input_size) for p in paths])
        )
        forward: dict[str, list[float]] = {"naive": [], "product": []}
        for _ in range(args.rounds):
            for name, seconds in model_only(inputs, eager, service, args.batch_size).items():
                forward[name].append(seconds)
        image = read_image(paths[0])
        labels = list(service.card.shown_labels)[: args.cam_findings]
        service.explain(image, labels[0])
        cam = []
        for label in labels:
            start = time.perf_counter()
            service.explain(image, label)
            cam.append(time.perf_counter() - start)

    naive_ips = args.images / statistics.median(times["naive"])
    product_ips = args.images / statistics.median(times["product"])
    print(f"model: {service.card.name} {service.card.version}  device: {service.device}  "
          f"precision: {service.precision}  torch threads: {torch.get_num_threads()}")  # fmt: skip
    print(f"images per round: {args.images} (real sample studies, repeated), rounds: {args.rounds}")
    print(f"naive   (eager fp32, batch 1)          : {naive_ips:6.2f} images/s")
    print(f"product (batch {args.batch_size}, channels-last, read-ahead): {product_ips:6.2f} images/s")
    print(f"ratio product/naive (end to end)      : {product_ips / naive_ips:6.2f}x")
    naive_fwd, product_fwd = (args.images / statistics.median(forward[k]) for k in ("naive", "product"))
    print(f"model only, naive (batch 1)            : {naive_fwd:6.2f} images/s")
    print(f"model only, product                    : {product_fwd:6.2f} images/s")
    print(f"ratio product/naive (model only)       : {product_fwd / naive_fwd:6.2f}x")
    print(f"Grad-CAM per finding (median of {len(cam)})    : {statistics.median(cam):6.3f} s")


if __name__ == "__main__":
    main()
