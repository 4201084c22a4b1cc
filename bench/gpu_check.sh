#!/usr/bin/env bash
# ViT-B-32 in bf16 on one CUDA GPU: open_clip_train vs hubbleclip train on the same work (bench/bench_parity.py),
# plus LoRA on both towers and the check that its export loads in plain open_clip. <= 5 minutes in all.
# Writes runs/bench/gpu_parity.json (throughput, peak host RSS, per-step losses) and prints the summary.
#
#   bash bench/gpu_check.sh                       # needs data/skyset (hubbleclip data build) and a CUDA GPU
#   DATA=/path/to/skyset BATCH=256 bash bench/gpu_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}
DATA=${DATA:-data/skyset}
BATCH=${BATCH:-128}
STEPS=${STEPS:-20}
"$PYTHON" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'no CUDA device: this check is for a GPU machine')"
[ -d "$DATA" ] || { echo "no dataset at $DATA: build it with 'hubbleclip data build --out $DATA' or set DATA" >&2; exit 1; }
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
timeout 300 "$PYTHON" -m bench.bench_parity --data "$DATA" --precision amp_bf16 --batch_size "$BATCH" \
  --steps "$STEPS" --skip 5 --lora --out runs/bench/gpu_parity.json
