"""Write the aspect-restored copy of one split of a class-folder dataset (by hand; ``evaluate.sh`` runs
it). See :mod:`inference.fit.evaluation.aspect`.

    .venv/bin/python scripts/restore_aspect.py DATA/kermany-pediatric-224/train OUT \\
        --split-file runs/.../split.json --split test
"""

from __future__ import annotations

import argparse
from pathlib import Path

from inference.fit.evaluation.aspect import restore_split


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="scripts/restore_aspect.py", description=__doc__.split("\n")[0])
    p.add_argument("dataset", type=Path, help="a folder of class folders (squashed images)")
    p.add_argument("out", type=Path, help="where the restored copy goes (class folders of PNGs)")
    p.add_argument("--split-file", type=Path, help="split.json of a training run: copy only --split")
    p.add_argument("--split", default="test", choices=("train", "val", "test"))
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    n = restore_split(args.dataset, args.out, args.split_file, args.split, args.seed)
    print(f"wrote {n} aspect-restored images to {args.out}")
    return 0 if n else 2


if __name__ == "__main__":
    raise SystemExit(main())
