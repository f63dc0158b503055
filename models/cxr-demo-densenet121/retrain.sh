#!/usr/bin/env bash
# Retrain the bundled demo model from the public data set folder (default ../shared/data).
# Usage (from anywhere): models/cxr-demo-densenet121/retrain.sh [DATA_DIR]
# Data is read only here, at training time; the app and the tests never read it.
# ~75 min on 2 CPU cores. Checkpoints and logs go to runs/cxr-demo-densenet121/ (git-ignored);
# an interrupted run continues where it stopped when this script is run again (--resume).
set -euo pipefail
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$REPO"
DATA="${1:-../shared/data}"
PY="${PYTHON:-.venv/bin/python}"
# One thread by default: on a shared 2-core machine two OpenMP threads were 4x slower (spin-waits).
THREADS="${THREADS:-1}"
export OMP_WAIT_POLICY=PASSIVE
"$PY" -m inference.commands.train train \
  --data "nih=$DATA/nih-pneumonia-subset/labels.csv" \
  --data "kermany=$DATA/kermany-pediatric-224/train" \
  --class-map NORMAL= --class-map PNEUMONIA=Pneumonia \
  --labels Pneumonia,Infiltration,Atelectasis,Effusion,Edema \
  --select-labels Pneumonia \
  --exclude resources/samples \
  --input-size 128 --epochs 10 --epoch-size 1600 --batch-size 16 \
  --lr 1e-3 --weight-decay 1e-2 --warmup 0.05 \
  --balance sampler --balance-views \
  --val-fraction 0.15 --test-fraction 0.2 --seed 0 \
  --min-positives 10 --fp16 --threads "$THREADS" --max-minutes 78 --resume \
  --name cxr-demo-densenet121 --version 1.0.0 \
  --description "Demo model, trained on public research data, not for clinical use. DenseNet-121 trained from scratch jointly on NIH ChestX-ray14 adult radiographs and Kermany pediatric radiographs with source- and view-balanced sampling." \
  --training-data "NIH ChestX-ray14 (pneumonia subset, 773 adult frontal radiographs at 512 px): NIH Clinical Center, released without restriction. Wang et al., ChestX-ray8, CVPR 2017." \
  --training-data "Kermany pediatric chest X-ray (5,216 images, Guangzhou Women and Children's Medical Center): CC BY 4.0. Kermany et al., Cell 2018, doi:10.1016/j.cell.2018.02.010." \
  --out models/cxr-demo-densenet121 --work runs/cxr-demo-densenet121 \
  "${@:2}"
# Reference figures and the retrain command into the card, card.md; then the held-out test split
# evaluated again through the product's own inference path (read_image -> service), report + PNGs.
"$PY" -m inference.train.publish models/cxr-demo-densenet121 \
  --recipe "models/cxr-demo-densenet121/retrain.sh $DATA" \
  --reference "CheXNet (Rajpurkar et al. 2017), ChestX-ray14 official test split, mean over 14 findings=0.841" \
  --reference "Kermany et al. 2018, pediatric pneumonia vs normal, their test set, ImageNet-pretrained=0.968"
"$PY" -m inference.cli evaluate models/cxr-demo-densenet121 \
  "nih=$DATA/nih-pneumonia-subset/labels.csv" "kermany=$DATA/kermany-pediatric-224/train" \
  --class-map NORMAL= --class-map PNEUMONIA=Pneumonia \
  --split-file runs/cxr-demo-densenet121/split.json --split test \
  --out models/cxr-demo-densenet121/evaluation
