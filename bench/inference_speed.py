"""Naive vs product inference on the same real images, side by side in one run.

    .venv/bin/python bench/inference_speed.py [--model DIR] [--images N] [--dicoms N] [--rounds R]

naive   : for each image: full-resolution read, CheXNet preprocessing, eager fp32 forward at batch 1.
product : ``inference.runtime.scoring.score_studies`` with the model service (reduced-resolution decoding,
          batched, channels-last, read-ahead thread, bf16 only where the hardware has it and parity
          holds).
Both end to end (decoding included) on two sets: the bundled PNG/JPEG/DICOM samples (repeated),
and full-size DICOMs made here from the bundled ones (the 1024² NIH DX upsampled to 2500×3000
12-bit with mild noise, stored uncompressed and as JPEG 2000 lossless, plus the bundled 2128×2000
JPEG 2000 DX). Then decode times, full vs reduced (what scoring asks for), model only (the same
preprocessed inputs, forward passes alone) and Grad-CAM ms per finding, Captum vs the forward
pass. Rounds alternate so that machine noise hits both alike; medians are printed, with the ratios.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pydicom
import torch
from pydicom.uid import JPEG2000Lossless, generate_uid

from inference.api import ModelCard, PreparedImage, ScanEntry, Status
from inference.bundled import DEMO_MODEL, SAMPLES
from inference.io import read_image, scan
from inference.models.package import load_package
from inference.runtime.explain import captum_cam, forward_cams
from inference.runtime.preprocess import decode_side, prepare
from inference.runtime.scoring import score_studies
from inference.runtime.service import ModelService, load_service

LARGE = (3000, 2500)  # rows, columns of a large CR/DX detector
NIH_DX = SAMPLES / "DX_chest_NIH_google_1024_8bit.dcm"
CANON_J2K = SAMPLES / "DX_chest_PA_canon_J2KR_MONO1_966_fixed.dcm"


def naive(paths: Sequence[Path], model: torch.nn.Module, card: ModelCard) -> None:
    with torch.no_grad():
        for path in paths:
            x = torch.from_numpy(prepare(read_image(path).pixels, card.preprocessing, card.input_size)[None])
            model(x).sigmoid()


def product(entries: Sequence[ScanEntry], service: ModelService, batch_size: int) -> None:
    for _ in score_studies(entries, service, batch_size=batch_size):
        pass


def model_only(
    inputs: list[PreparedImage], model: torch.nn.Module, service: ModelService, batch_size: int
) -> dict[str, float]:
    """Seconds for the forward passes alone: naive batch 1 vs the service's batched predict."""
    with torch.inference_mode():
        start = time.perf_counter()
        for image in inputs:
            model(torch.from_numpy(image.inputs))
        naive_s = time.perf_counter() - start
    start = time.perf_counter()
    for i in range(0, len(inputs), batch_size):
        service.predict(inputs[i : i + batch_size])
    return {"naive": naive_s, "product": time.perf_counter() - start}


def per_backend(package: Path, paths: Sequence[Path], batch_size: int, rounds: int) -> dict[str, float]:
    """Model-only ms/image of each backend, fp32 on the CPU, on the same inputs (after a warm-up batch);
    keyed by the backend each service settled on when it loaded."""
    services = [load_service(package, "cpu", precision="fp32", backend=b) for b in ("torch", "onnx")]
    inputs = [services[0].prepare(read_image(p)) for p in paths]
    for service in services:
        service.predict(inputs[:batch_size])

    def run(service: ModelService) -> Callable[[], None]:
        def batches() -> None:
            for i in range(0, len(inputs), batch_size):
                service.predict(inputs[i : i + batch_size])

        return batches

    times = alternate({s.backend: run(s) for s in services}, rounds)
    return {backend: 1000 * seconds / len(inputs) for backend, seconds in times.items()}


def random_package(folder: Path) -> Path:
    from inference.api import LabelCard, Preprocessing, Task
    from inference.labels import CHESTXRAY14
    from inference.models.package import build_model, save_package

    labels = tuple(LabelCard(n, operating_points={"youden": 0.5}) for n in CHESTXRAY14)
    card = ModelCard("random", "0", "densenet121", Task.MULTILABEL, Preprocessing.CHEXNET, labels, "")
    save_package(folder, card, build_model(card))
    return folder


def large_dicoms(folder: Path) -> list[Path]:
    """The NIH DX upsampled to a large detector, uncompressed and JPEG 2000, and the Canon JPEG 2000."""
    ds = pydicom.dcmread(NIH_DX)
    rows, columns = LARGE
    grey = cv2.resize(ds.pixel_array.astype(np.float32) * 16, (columns, rows), interpolation=cv2.INTER_CUBIC)
    noise = np.random.default_rng(0).normal(0.0, 8.0, grey.shape)  # detector noise, in 12-bit units
    values = np.clip(np.rint(grey + noise), 0, 4095).astype(np.uint16)
    ds.Rows, ds.Columns = rows, columns
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 12, 11
    ds.WindowCenter, ds.WindowWidth = 2048, 4096
    ds.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    ds.PixelData = values.tobytes()
    paths = [folder / "large_uncompressed.dcm", folder / "large_j2k.dcm"]
    ds.save_as(paths[0], enforce_file_format=True)
    ds.SOPInstanceUID, ds.StudyInstanceUID = generate_uid(), generate_uid()
    ds.compress(JPEG2000Lossless, values)
    ds.save_as(paths[1], enforce_file_format=True)
    return [*paths, CANON_J2K]


def worklist(paths: Sequence[Path], count: int) -> list[ScanEntry]:
    """``count`` entries cycling over the eligible ``paths``, each its own study as in a real worklist."""
    eligible = [e for e in scan(list(paths)) if e.status is Status.SCORED]
    return [
        replace(e, meta=replace(e.meta, study_uid=f"{e.meta.study_uid}#{i}"))
        for i, e in ((i, eligible[i % len(eligible)]) for i in range(count))
    ]


def cam_ms(
    paths: Sequence[Path], model: torch.nn.Module, service: ModelService, rounds: int, package: Path
) -> dict[str, float]:
    """Grad-CAM milliseconds per finding, medians over ``paths`` and rounds: Captum's LayerGradCam
    (a forward and a backward pass per finding), the closed form (one forward pass for every output)
    in torch fp32 and in ONNX Runtime fp32, and the service's ``explain`` of every shown finding of a
    new image (that pass, smoothing, placing over the full image)."""
    card = service.card
    outputs, shown = range(len(card.labels)), card.shown_labels
    runner = load_service(package, "cpu", precision="fp32", backend="onnx")
    times: dict[str, list[float]] = {"captum": [], "torch": [], "onnx": [], "explain": []}
    service.explain(read_image(paths[0]), shown[0])  # warm-up
    for path in [p for _ in range(rounds) for p in paths]:
        image = read_image(path)
        x = torch.from_numpy(prepare(image.pixels, card.preprocessing, card.input_size)[None])
        start = time.perf_counter()
        for target in outputs:
            captum_cam(model, x, target)
        times["captum"].append((time.perf_counter() - start) / len(outputs))
        start = time.perf_counter()
        forward_cams(model, x)
        times["torch"].append((time.perf_counter() - start) / len(outputs))
        start = time.perf_counter()
        runner._cams(x.numpy())
        times["onnx"].append((time.perf_counter() - start) / len(outputs))
        start = time.perf_counter()
        for label in shown:
            service.explain(image, label)
        times["explain"].append((time.perf_counter() - start) / len(shown))
    return {name: 1000 * statistics.median(seconds) for name, seconds in times.items()}


def alternate(runs: dict[str, Callable[[], None]], rounds: int) -> dict[str, float]:
    """Median seconds of each run, the runs alternating round by round."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(seconds) for name, seconds in times.items()}


def decode_ms(path: Path, min_side: int | None, rounds: int) -> float:
    """Median milliseconds of ``read_image`` (after one warm-up read: page cache, decoders)."""

    def read() -> None:
        read_image(path, min_side=min_side)

    read()
    return 1000 * alternate({"read": read}, rounds)["read"]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--model", type=Path, default=DEMO_MODEL if (DEMO_MODEL / "card.json").is_file() else None
    )
    parser.add_argument("--images", type=int, default=32, help="sample images per round (repeated)")
    parser.add_argument("--dicoms", type=int, default=12, help="full-size DICOMs per round (repeated)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        package = args.model or random_package(Path(tmp))
        service = load_service(package)
        card, eager = load_package(package)  # a separate fp32, contiguous-layout copy for the naive path
        sets = {"samples (PNG/JPEG/DICOM)": worklist([SAMPLES], args.images),
                "full-size DICOMs": worklist(large_dicoms(Path(tmp)), args.dicoms)}  # fmt: skip
        naive([e.meta.path for e in sets["samples (PNG/JPEG/DICOM)"][:2]], eager, card)  # warm-up both
        product(sets["samples (PNG/JPEG/DICOM)"][:2], service, args.batch_size)
        end_to_end = {
            name: alternate({"naive": lambda e=entries: naive([x.meta.path for x in e], eager, card),
                             "product": lambda e=entries: product(e, service, args.batch_size)}, args.rounds)
            for name, entries in sets.items()
        }  # fmt: skip
        side = decode_side(card.preprocessing, card.input_size)
        decode = {
            path.name: (decode_ms(path, None, args.rounds), decode_ms(path, side, args.rounds))
            for path in dict.fromkeys(e.meta.path for e in sets["full-size DICOMs"])
        }
        paths = [e.meta.path for e in sets["samples (PNG/JPEG/DICOM)"]]
        inputs = [service.prepare(read_image(p)) for p in paths]
        runs = [model_only(inputs, eager, service, args.batch_size) for _ in range(args.rounds)]
        forward = {name: statistics.median(r[name] for r in runs) for name in ("naive", "product")}
        cam = cam_ms(list(dict.fromkeys(paths))[:4], eager, service, args.rounds, package)

    print(f"model: {service.card.name} {service.card.version}  input: {card.input_size} px  device: "
          f"{service.device}  precision: {service.precision}  torch threads: {torch.get_num_threads()}  "
          f"batch: {args.batch_size}  rounds: {args.rounds} (medians)")  # fmt: skip
    print(f"{'end to end, images/s':34s} {'naive':>8s} {'product':>8s} {'ratio':>7s}")
    for name, entries in sets.items():
        naive_ips, product_ips = (len(entries) / end_to_end[name][k] for k in ("naive", "product"))
        label = f"{name} ×{len(entries)}"
        print(f"{label:34s} {naive_ips:8.2f} {product_ips:8.2f} {product_ips / naive_ips:6.2f}x")
    naive_fwd, product_fwd = (len(inputs) / forward[k] for k in ("naive", "product"))
    ratio = product_fwd / naive_fwd
    print(f"{'model only (same inputs)':34s} {naive_fwd:8.2f} {product_fwd:8.2f} {ratio:6.2f}x")
    print(f"{'decode, ms/image':34s} {'full':>8s} {'reduced':>8s} {'ratio':>7s}   (min_side {side})")
    for name, (full_ms, reduced_ms) in decode.items():
        print(f"{name[:34]:34s} {full_ms:8.1f} {reduced_ms:8.1f} {full_ms / reduced_ms:6.1f}x")
    print(f"{'Grad-CAM, ms/finding':34s} {'captum':>8s} {'torch':>8s} {'onnx':>8s} {'ratio':>7s}   (forward "
          "pass, closed form; ratio captum/onnx)")  # fmt: skip
    print(f"{'one image, every output':34s} {cam['captum']:8.1f} {cam['torch']:8.1f} {cam['onnx']:8.1f} "
          f"{cam['captum'] / cam['onnx']:6.1f}x")  # fmt: skip
    print(f"{'explain, every shown finding':34s} {cam['explain']:8.1f}   (the service: its pass, maps placed "
          "over the full image)")  # fmt: skip
    print(f"{'model only, per backend, ms/image':34s} {'torch':>8s} {'onnx':>8s} {'ratio':>7s}   (fp32, CPU)")
    with tempfile.TemporaryDirectory() as tmp:
        demo = f"demo model, {service.card.input_size} px"
        models = {"random CheXNet, 224 px": random_package(Path(tmp)), demo: DEMO_MODEL}
        for name, package in models.items():
            ms = per_backend(package, paths, args.batch_size, args.rounds)
            onnx_ms = ms.get("onnx", float("nan"))  # nan: parity failed, that service scored with torch
            print(f"{name:34s} {ms['torch']:8.1f} {onnx_ms:8.1f} {ms['torch'] / onnx_ms:6.2f}x")


if __name__ == "__main__":
    main()
