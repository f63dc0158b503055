"""``cxr-triage model``: import published checkpoints as model packages, fit a package's safety gate
on the site's own radiographs, add the ONNX export the CPU runtime runs, and show a package's card.

    cxr-triage model import chexnet|xrv CHECKPOINT DEST_DIR [--name N] [--version V]
        [--labels A,B,,D] [--op-threshs 0.07,nan,...] [--training-data TEXT ...] [--force]
    cxr-triage model gate PACKAGE_DIR IMAGES_DIR [--calibration-fraction 0.25] [--components 32]
        [--seed 0]
    cxr-triage model export PACKAGE_DIR
    cxr-triage model info PACKAGE_DIR

Exit codes: 0 success; 1 the package's weights are missing, do not match its card or cannot be
loaded; 2 unreadable input, an invalid card, or too few readable images for a gate (the message
names every problem).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from inference.api import OPERATING_POINTS, ModelCard
from inference.models.card import WEIGHTS, PackageError, read_card
from inference.models.registry import CHECKPOINT_FORMATS

EXIT_MISMATCH = 1
EXIT_ERROR = 2


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("model", help="import checkpoints, inspect model packages")
    sub = parser.add_subparsers(dest="model_command", required=True, metavar="ACTION")

    imp = sub.add_parser(
        "import", help="convert a CheXNet or torchxrayvision checkpoint into a model package"
    )
    imp.add_argument(
        "kind",
        choices=tuple(CHECKPOINT_FORMATS),
        help="; ".join(f"{f.name}: {f.title}" for f in CHECKPOINT_FORMATS.values()),
    )
    imp.add_argument("checkpoint", help="checkpoint file (.pth.tar, .pt, .pth)")
    imp.add_argument("dest", help="folder to write model.safetensors and card.json into")
    imp.add_argument("--name", help="model name (default: <kind>-<checkpoint stem>)")
    imp.add_argument("--version", help="model version (default: imported-<checkpoint sha256 prefix>)")
    imp.add_argument("--labels", help="comma-separated output names in output order; empty = untrained (xrv)")
    imp.add_argument(
        "--op-threshs", help="xrv: comma-separated operating thresholds on probabilities, nan = none"
    )
    imp.add_argument("--training-data", action="append", default=[], help="training data set (repeatable)")
    imp.add_argument("--force", action="store_true", help="overwrite an existing package in DEST")
    imp.set_defaults(func=run_import)

    gate = sub.add_parser(
        "gate", help="fit a package's safety gate (feature statistics) on the site's own radiographs"
    )
    gate.add_argument("package", help="model package folder (gate.npz and the card's gate section go here)")
    gate.add_argument(
        "images", help="folder of the site's frontal chest radiographs (DICOM, PNG, JPEG; recursive)"
    )
    gate.add_argument(
        "--calibration-fraction",
        type=float,
        default=0.25,
        help="share of the images kept to set the threshold, not fitted (default 0.25)",
    )
    gate.add_argument("--components", type=int, default=32, help="principal directions kept (default 32)")
    gate.add_argument("--seed", type=int, default=0, help="seed of the fit/calibration split (default 0)")
    gate.set_defaults(func=run_gate)

    export = sub.add_parser(
        "export", help="add the ONNX export the CPU runtime runs to a package (model.onnx, in its card)"
    )
    export.add_argument("package", help="model package folder (model.onnx and its card section go here)")
    export.set_defaults(func=run_export)

    info = sub.add_parser("info", help="print a model package's card and check its weights against it")
    info.add_argument("package", help="model package folder")
    info.set_defaults(func=run_info)


def _fail(message: str, code: int = EXIT_ERROR) -> int:
    print(f"cxr-triage model: error: {message}", file=sys.stderr)
    return code


def run_import(args: argparse.Namespace) -> int:
    from inference.fit.checkpoint_import import import_checkpoint  # torch: only when a checkpoint is imported
    from inference.models.checkpoints import CheckpointError, parse_floats, parse_labels
    from inference.runtime.backends.onnx import FAILURES

    try:
        card = import_checkpoint(
            args.kind,
            args.checkpoint,
            args.dest,
            name=args.name,
            version=args.version,
            labels=parse_labels(args.labels),
            op_threshs=parse_floats(args.op_threshs),
            training_data=args.training_data,
            force=args.force,
        )
    except (CheckpointError, PackageError, *FAILURES) as exc:
        return _fail(str(exc))
    shown = len(card.shown_labels)
    print(f"Imported {args.kind} checkpoint {args.checkpoint} -> {args.dest}")
    print(f"  {card.name} {card.version}: {len(card.labels)} outputs, {shown} trained")
    print(f"  weights sha256 {card.weights_sha256}")
    if card.onnx is not None:
        print(f"  ONNX export {card.onnx.file}: parity with torch fp32 on the probe {card.onnx.parity:.1e}")
    return 0


def run_export(args: argparse.Namespace) -> int:
    from inference.fit.package_export import add_export  # torch: only when an export is made
    from inference.runtime.backends.onnx import ARCHITECTURES, FAILURES

    package = Path(args.package)
    try:  # an invalid card is bad input (2); weights that do not match it or load are exit 1, below
        card = read_card(package)
    except PackageError as exc:
        return _fail(str(exc))
    if card.architecture not in ARCHITECTURES:
        return _fail(f"the ONNX export covers {', '.join(ARCHITECTURES)} only, not {card.architecture}")
    try:
        section = add_export(package)
    except PackageError as exc:
        return _fail(str(exc), EXIT_MISMATCH)
    except FAILURES as exc:
        return _fail(f"cannot export {package}: {exc}")
    print(f"Wrote {package / section.file} and the card's onnx section")
    print(f"  sha256 {section.sha256}; parity with torch fp32 on the probe {section.parity:.1e}")
    return 0


def run_gate(args: argparse.Namespace) -> int:
    from inference.fit.site_gate import SiteGateError, fit_site_gate  # cv2, pydicom: only when fitting a gate
    from inference.gate import GATE_FILE

    package = Path(args.package)
    try:  # an invalid card is bad input (2); weights that do not match it or load are exit 1, below
        read_card(package)
    except PackageError as exc:
        return _fail(str(exc))
    try:
        fit = fit_site_gate(package, Path(args.images), args.calibration_fraction, args.components, args.seed)
    except (SiteGateError, OSError) as exc:
        return _fail(str(exc))
    except PackageError as exc:
        return _fail(str(exc), EXIT_MISMATCH)
    print(f"Wrote {package / GATE_FILE} and the card's gate section (card.json, card.md)")
    print(
        f"  {fit.read} images read, {fit.skipped} files skipped: {fit.fit} fit, {fit.calibration} calibrate"
    )
    print(
        f"  calibration pass rate {fit.calibration_pass_rate:.1%} (the site's own calibration images, not"
        " held-out ones: cxr-triage evaluate on other labelled radiographs reports what the gate stops)"
    )
    return 0


def _fmt(value: float | None, spec: str = ".4g") -> str:
    """Thresholds keep 4 significant digits (xrv's can be 0.00044); em dash when absent."""
    return "—" if value is None else format(value, spec)


def print_card(card: ModelCard, weights_status: str, out: TextIO) -> None:
    """The card as a reader would want it: facts first, then one row per output."""
    from inference.gate import describe as describe_gate  # cv2: not at parser build time

    rows = [
        ("Name", card.name),
        ("Version", card.version),
        ("Architecture", card.architecture),
        ("Task", card.task.value),
        ("Preprocessing", card.preprocessing.value),
        ("Input size", f"{card.input_size}×{card.input_size}"),
        ("Weights sha256", card.weights_sha256 or "—"),
        ("Weights file", weights_status),
        ("Default operating point", card.default_operating_point),
        ("Intended use", card.intended_use or "—"),
        ("Training data", "; ".join(card.training_data) or "—"),
        ("Safety gate", describe_gate(card)),
    ]
    if card.recipe:
        rows.append(("Recipe", card.recipe))
    if card.description:
        rows.append(("Description", card.description))
    for key, value in card.metrics.items():
        rows.append((f"Metric {key}", str(value)))
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}", file=out)

    names = {p for lab in card.labels for p in lab.operating_points}
    points = [p for p in OPERATING_POINTS if p in names] + sorted(names - set(OPERATING_POINTS))
    trained = sum(lab.trained for lab in card.labels)
    print(f"\nLabels ({len(card.labels)} outputs, {trained} trained; untrained are hidden):", file=out)
    lw = max([len("label")] + [len(lab.name) for lab in card.labels])
    cols = [max(len(p), 6) for p in points]
    header = f"  {'#':>2}  {'label':<{lw}}  trained  " + "  ".join(
        f"{p:>{w}}" for p, w in zip(points, cols, strict=True)
    )
    print(header + "   AUROC  n_pos/n_neg", file=out)
    for i, lab in enumerate(card.labels):
        ops = "  ".join(
            f"{_fmt(lab.operating_points.get(p)):>{w}}" for p, w in zip(points, cols, strict=True)
        )
        counts = f"{lab.n_positive}/{lab.n_negative}" if lab.n_positive or lab.n_negative else "—"
        flag = "yes" if lab.trained else "no"
        print(
            f"  {i:>2}  {lab.name:<{lw}}  {flag:<7}  {ops}  {_fmt(lab.auroc, '.3f'):>6}  {counts}", file=out
        )


def run_info(args: argparse.Namespace) -> int:
    """The card, then the weights and the gate file checked as loading them would (sha256, tensors)."""
    from inference.gate import load_gate  # cv2, and torch (models.package): only for model info
    from inference.models.package import read_weights

    package = Path(args.package)
    try:
        card = read_card(package)
    except PackageError as exc:
        return _fail(str(exc))
    try:
        read_weights(package, card)
        load_gate(package, card)
    except PackageError as exc:
        print_card(card, "CANNOT BE LOADED (see the error below)", sys.stdout)
        sys.stdout.flush()
        return _fail(str(exc), EXIT_MISMATCH)
    print_card(card, f"{WEIGHTS} matches the card and loads", sys.stdout)
    return 0
