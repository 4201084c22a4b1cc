#!/usr/bin/env bash
# The GPU check, <= 5 minutes in all, on one CUDA GPU, in bf16:
#   1. ViT-B-32, batch 128, 20 steps: open_clip_train vs hubbleclip train on the same work
#      (bench/bench_parity.py), plus LoRA on both towers and its export loaded in plain open_clip;
#   2. PAPERCLIP's recipe (training/configs/paperclip.yaml): ViT-B/16, batch 32, random init, 200 steps
#      on WebDataset shards, samples/s against open_clip_train on the same shards (bench/bench_recipe.py).
# Writes runs/bench/gpu_parity.json and runs/bench/gpu_recipe.json (OUT_DIR=...) and prints summaries.
#
# On a bare GPU machine (python3 with torch, transformers, accelerate, peft, timm; no network), first run
# `bash bench/gpu_bundle.sh` on a CPU machine with the project installed: it puts the missing packages
# as wheels and a small dataset + shard set into .gpu/ (~15 MB), which this script then uses:
#
#   bash bench/gpu_check.sh                       # .gpu/ if present, else .venv + data/skyset
#   OUT_DIR=$OUT PYTHON=python3 bash bench/gpu_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
OUT_DIR=${OUT_DIR:-runs/bench}
if [ -d .gpu/wheels ]; then
  PYTHON=${PYTHON:-python3}
  "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/hubbleclip-site .gpu/wheels/*.whl
  # the project runs from this checkout, uninstalled; its missing dependencies from the wheels
  export PYTHONPATH="$PWD:/tmp/hubbleclip-site${PYTHONPATH:+:$PYTHONPATH}"
  DATA=${DATA:-.gpu/dataset}
  SHARDS=${SHARDS:-.gpu/shards/train}
  CSV=${CSV:-.gpu/csv/train.csv}
else
  PYTHON=${PYTHON:-.venv/bin/python}
  DATA=${DATA:-data/skyset}
  SHARDS=${SHARDS:-}
  CSV=${CSV:-}
fi
BATCH=${BATCH:-128}
STEPS=${STEPS:-20}
"$PYTHON" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'no CUDA device: this check is for a GPU machine')"
[ -d "$DATA" ] || { echo "no dataset at $DATA: run bench/gpu_bundle.sh, or build one and set DATA" >&2; exit 1; }
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
"$PYTHON" -c "import torch, transformers, open_clip, datasets; print('torch', torch.__version__, \
'transformers', transformers.__version__, 'open_clip', open_clip.__version__, 'datasets', datasets.__version__)"
mkdir -p "$OUT_DIR"
timeout 150 "$PYTHON" -m bench.bench_parity --data "$DATA" --precision amp_bf16 --batch_size "$BATCH" \
  --steps "$STEPS" --skip 5 --lora --out "$OUT_DIR/gpu_parity.json"
if [ -n "$SHARDS" ]; then
  timeout 150 "$PYTHON" -m bench.bench_recipe --shards "$SHARDS" --csv "$CSV" --precision amp_bf16 --steps 200 \
    --out "$OUT_DIR/gpu_recipe.json"
else
  echo "no shard set (SHARDS): the recipe step is skipped; bench/gpu_bundle.sh makes one" >&2
fi
