#!/usr/bin/env bash
# Evaluate the bundled demo model on its held-out test split through the product's own inference path
# (prepare_image -> predict -> safety gate, as the app scores), from the public data set folder (default ../shared/data).
# Usage (from anywhere): models/cxr-demo-densenet121/evaluate.sh [DATA_DIR]    (about 5 min on 2 cores)
# Writes, in the package (and their AUROCs into card.json and card.md):
#   evaluation/                   the test split as the sources give it (adult NIH 512 px, pediatric
#                                 Kermany squashed to 224x224): report.md, metrics.json, predictions,
#                                 ROC and threshold PNGs, with 95% bootstrap CIs per source and view;
#   evaluation-aspect-restored/   the pediatric test images stretched back to the 1.3-1.5:1 width of
#                                 the original radiographs (the copy goes to runs/, git-ignored).
# test-split.json (file names of the patient-disjoint held-out split) was written by retrain.sh.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$REPO"
DATA="${1:-../shared/data}"
PY="${PYTHON:-.venv/bin/python}"
PACKAGE=models/cxr-demo-densenet121
SPLIT="$PACKAGE/test-split.json"
"$PY" -m inference.commands.evaluate evaluate "$PACKAGE" \
  "nih=$DATA/nih-pneumonia-subset/labels.csv" "kermany=$DATA/kermany-pediatric-224/train" \
  --class-map NORMAL= --class-map PNEUMONIA=Pneumonia \
  --split-file "$SPLIT" --split test --device cpu \
  --out "$PACKAGE/evaluation"
rm -rf runs/kermany-aspect-restored-test
"$PY" scripts/restore_aspect.py "$DATA/kermany-pediatric-224/train" runs/kermany-aspect-restored-test \
  --split-file "$SPLIT" --split test
"$PY" -m inference.commands.evaluate evaluate "$PACKAGE" \
  "kermany-aspect-restored=runs/kermany-aspect-restored-test" \
  --class-map NORMAL= --class-map PNEUMONIA=Pneumonia --device cpu \
  --out "$PACKAGE/evaluation-aspect-restored"
# Both results into the card (card.json metrics.product_path_test, and card.md).
"$PY" scripts/publish_package.py "$PACKAGE" \
  --evaluation "Test split as the sources give it=$PACKAGE/evaluation" \
  --evaluation "kermany-aspect-restored=$PACKAGE/evaluation-aspect-restored"
