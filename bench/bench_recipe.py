"""PAPERCLIP's recipe (ViT-B/16, batch 32, random init) on WebDataset shards: hubbleclip train vs
open_clip_train on the same shards, init and precision.  Prints both samples/s and their ratio.

python -m bench.bench_recipe --precision amp_bf16 --steps 200  # GPU, reads the .gpu/ bundle
python -m bench.bench_recipe --precision fp32 --steps 3 --skip 1 --batch_size 4 --workers 0  # CPU
"""

import argparse
import json
import tempfile
from pathlib import Path

from bench.harness.recipe import RecipeSettings, run_recipe
from hubbleclip.io import atomic_write_json

if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shards", default=".gpu/shards/train", help="folder of NNNNN.tar shards + sizes.json")
    p.add_argument("--csv", default=".gpu/csv/train.csv", help="the same rows as open_clip_train's CSV")
    p.add_argument("--arch", default="ViT-B-16")
    p.add_argument("--batch_size", type=int, default=32)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--skip", type=int, default=10, help="first steps not timed")
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--precision", default="amp_bf16", choices=["fp32", "amp_bf16", "amp"])
    p.add_argument("--out", default="runs/bench/recipe.json", help="results JSON")
    a = p.parse_args()
    shards = Path(a.shards)
    s = RecipeSettings(a.arch, a.batch_size, a.steps, a.skip, a.precision, a.workers)
    with tempfile.TemporaryDirectory() as tmp:
        r = run_recipe(shards, Path(a.csv), Path(tmp), s)
    atomic_write_json(a.out, r)
    print(json.dumps(r, indent=2))
    print(
        f"{a.arch} batch {a.batch_size}, {a.steps} steps, {a.precision}: ours "
        f"{r['hubbleclip']['samples_per_s']:.1f} samples/s vs open_clip_train "
        f"{r['open_clip_train']['samples_per_s']:.1f}: ratio {r['ratio']:.3f} (target >= 0.95)"
    )
