#!/usr/bin/env bash
# Prepare, on a CPU machine with the project's .venv and a built skyset, what bench/gpu_check.sh needs
# on a bare GPU machine (Python 3.12, torch, transformers, accelerate, peft, timm; no network):
#   .gpu/wheels/   the missing packages as Python 3.12 wheels (open_clip, datasets, webdataset, ...)
#   .gpu/dataset/  1,024 imaged train rows, 224 px JPEG (the parity check's saved dataset)
#   .gpu/shards/   the same rows as WebDataset shards from `hubbleclip data export` (the recipe check)
# About 15 MB in all (the device tool carries at most 64 MiB).  .gpu/ is git-ignored.
#
#   bash bench/gpu_bundle.sh                      # needs data/skyset (make demo or hubbleclip data build)
#   DATA=/path/to/skyset bash bench/gpu_bundle.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
DATA=${DATA:-data/skyset}
[ -d "$DATA" ] || { echo "no dataset at $DATA: build it with 'hubbleclip data build --out $DATA' or set DATA" >&2; exit 1; }
rm -rf .gpu.partial && mkdir -p .gpu.partial/wheels
# the versions this .venv runs, so the GPU machine runs the same code
pins=$("$PYTHON" -m pip list --format=freeze 2>/dev/null | grep -i -E \
  '^(open.clip.torch|ftfy|wcwidth|webdataset|braceexpand|datasets|dill|multiprocess)==')
# shellcheck disable=SC2086
"$PYTHON" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  -d .gpu.partial/wheels $pins
"$PYTHON" -c "import sys; from pathlib import Path; from bench.harness.recipe import export_small_shards; \
export_small_shards(sys.argv[1], Path('.gpu.partial'))" "$DATA"
rm -rf .gpu && mv .gpu.partial .gpu
du -sh .gpu .gpu/*
