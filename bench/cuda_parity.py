"""fp32 on a CUDA GPU against fp32 on the CPU, for the same network inputs, in two steps.

1. Where the product is installed (any CPU): ``--prepare FILE`` writes the network inputs of the bundled
   samples (read and prepared by the product's own path) and their CPU fp32 probabilities (torch and
   ONNX Runtime) to FILE (.npz).
2. On a machine with a CUDA GPU and torch, torchvision, safetensors and numpy: ``--compare FILE`` scores
   those inputs with the bundled demo model on CUDA in fp32 (no TF32, as the product runs it), with
   TF32 allowed (torch's default for convolutions), and in bf16, each in one batch and image by image,
   and prints the largest difference from the CPU's torch fp32 probabilities.

    .venv/bin/python bench/cuda_parity.py --prepare runs/cuda/inputs.npz
    python bench/cuda_parity.py --compare runs/cuda/inputs.npz      # on the GPU machine
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def prepare(target: Path) -> None:
    from inference.bundled import DEMO_MODEL, SAMPLES
    from inference.runtime.network_input import prepare_image
    from inference.runtime.service import load_service

    torch_service = load_service(DEMO_MODEL, device="cpu", backend="torch")
    onnx_service = load_service(DEMO_MODEL, device="cpu", backend="onnx")
    prepared = [prepare_image(p, torch_service) for p in sorted(SAMPLES.iterdir())]
    images = [p for p in prepared if not isinstance(p, str)]
    labels = [label.name for label in torch_service.card.labels]

    def probabilities(service) -> np.ndarray:
        return np.array(
            [[p.probabilities.get(name, np.nan) for name in labels] for p in service.predict(images)]
        )

    target.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        target,
        inputs=np.concatenate([im.inputs for im in images]),
        cpu_torch=probabilities(torch_service),
        cpu_onnx=probabilities(onnx_service),
        shown=np.array([i for i, name in enumerate(labels) if name in torch_service.card.shown_labels]),
    )
    print(f"wrote {target}: {len(images)} images")


def compare(source: Path) -> None:
    import torch

    from inference.bundled import DEMO_MODEL
    from inference.models.package import load_package

    data = np.load(source)
    shown = data["shown"]
    reference = data["cpu_torch"][:, shown]
    print(f"GPU: {torch.cuda.get_device_name(0)}; torch {torch.__version__}")
    print(f"CPU ONNX Runtime vs CPU torch, fp32: {np.abs(data['cpu_onnx'][:, shown] - reference).max():.2e}")
    _, model = load_package(DEMO_MODEL)
    model = model.to("cuda").eval()
    x = torch.from_numpy(data["inputs"]).to("cuda")

    def scores(batch: torch.Tensor, dtype: torch.dtype) -> np.ndarray:
        autocast = torch.autocast("cuda", dtype=dtype, enabled=dtype != torch.float32)
        with torch.inference_mode(), autocast:
            return model(batch).float().sigmoid().cpu().numpy()[:, shown]

    for name, tf32, dtype in (
        ("fp32, no TF32 (the product)", False, torch.float32),
        ("fp32, TF32 allowed (torch default)", True, torch.float32),
        ("bf16 (opt-in)", False, torch.bfloat16),
    ):
        torch.backends.cudnn.allow_tf32 = tf32
        torch.backends.cuda.matmul.allow_tf32 = tf32
        batched = scores(x, dtype)
        alone = np.concatenate([scores(x[i : i + 1], dtype) for i in range(len(x))])
        print(
            f"{name:36s} vs CPU: batched {np.abs(batched - reference).max():.2e}, alone"
            f" {np.abs(alone - reference).max():.2e}; alone vs batched {np.abs(alone - batched).max():.2e}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    step = parser.add_mutually_exclusive_group(required=True)
    step.add_argument("--prepare", type=Path, metavar="FILE")
    step.add_argument("--compare", type=Path, metavar="FILE")
    args = parser.parse_args()
    prepare(args.prepare) if args.prepare else compare(args.compare)


if __name__ == "__main__":
    main()
