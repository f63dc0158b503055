"""Int8 against fp32 ONNX Runtime: held-out Pneumonia AUROC and model time, side by side.

The bundled demo model's held-out test split (rebuilt from the data folder as ``bench/similar_eval.py``
does: the training run's seed and fractions) is scored through the product path (prepare_image ->
service) with ONNX Runtime fp32 and with the int8 quantization (``--precision int8``).
Prints, per test set (adult NIH, pediatric Kermany), Pneumonia AUROC both ways and the difference
(the issue's bar: int8 may lose at most 0.005), then model-only ms/image both ways (batch 16,
prepared inputs; the parity check runs when the model loads).

    .venv/bin/python bench/int8_auroc.py DATA_DIR [--model PKG]

DATA_DIR is the public data folder (``nih-pneumonia-subset/``, ``kermany-pediatric-224/``); it is
read only by this script, run by hand.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from similar_eval import test_split  # noqa: E402

from inference.bundled import DEMO_MODEL  # noqa: E402

BATCH = 16
LIMIT = 0.005  # the largest AUROC drop int8 may cost


def prepared(samples: list, model: Path) -> list:
    from inference.runtime.network_input import prepare_image
    from inference.runtime.service import load_service

    service = load_service(model, device="cpu", precision="fp32", backend="torch")
    return [prepare_image(s.path, service) for s in samples]


def score(inputs: list, model: Path, precision: str) -> tuple[np.ndarray, str, float]:
    """Pneumonia probabilities, the precision the service settled on, and model ms/image."""
    from inference.runtime.service import load_service

    service = load_service(model, device="cpu", precision=precision, backend="onnx")
    service.predict(inputs[:BATCH])  # a warm-up batch
    started = time.perf_counter()
    scores = [p.probabilities["Pneumonia"] for i in range(0, len(inputs), BATCH)
              for p in service.predict(inputs[i : i + BATCH])]  # fmt: skip
    return np.array(scores), service.precision, (time.perf_counter() - started) * 1000 / len(inputs)


def main() -> int:
    from inference.fit.evaluation.metrics import auroc

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", type=Path, help="the public data folder (nih-pneumonia-subset/, ...)")
    parser.add_argument("--model", type=Path, default=DEMO_MODEL)
    args = parser.parse_args()
    samples = test_split(args.data)
    inputs = prepared(samples, args.model)
    results = {precision: score(inputs, args.model, precision) for precision in ("fp32", "int8")}
    if results["int8"][1] != "int8":
        print(f"int8 did not pass its parity check on the probe (scored as {results['int8'][1]})")
    labels = np.array(["Pneumonia" in s.findings for s in samples])
    worst = 0.0
    for source, name in (("nih", "adult (NIH)"), ("kermany", "pediatric (Kermany)")):
        mask = np.array([s.source == source for s in samples])
        fp32, quantized = (auroc(labels[mask], results[p][0][mask]) for p in ("fp32", "int8"))
        worst = max(worst, fp32 - quantized)
        print(f"{name}, {mask.sum()} images ({labels[mask].sum()} Pneumonia): AUROC fp32 {fp32:.4f}, "
              f"int8 {quantized:.4f}, difference {quantized - fp32:+.4f}")  # fmt: skip
    gap = np.abs(results["int8"][0] - results["fp32"][0])
    print(f"|p_int8 - p_fp32| on Pneumonia: max {gap.max():.4f}, mean {gap.mean():.4f}")
    print(f"model only, batch {BATCH}: fp32 {results['fp32'][2]:.1f} ms/image, int8 {results['int8'][2]:.1f}")
    verdict = "within" if worst <= LIMIT else "EXCEEDS"
    print(f"largest AUROC drop {worst:.4f}: {verdict} the {LIMIT} limit")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
