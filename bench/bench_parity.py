"""hubbleclip train vs open_clip_train (python -m open_clip_train.main) on the same work: a real open_clip
architecture from one random init (no pretrained weights offline), the same images, captions, batch,
AdamW settings, warm-up, clipping, precision and steps.  Prints both throughputs (samples/s), their ratio
(target >= 0.95), both peak RSS (target <= 1.1x) and the per-step loss agreement; writes a JSON.

python -m bench.bench_parity --data data/skyset --batch_size 8 --steps 6          # CPU, ViT-B-32
python -m bench.bench_parity --lora                                                # + LoRA, export check
python -m bench.bench_parity --precision amp_bf16 --batch_size 128 --steps 20      # GPU (bench/gpu_check.sh)
python -m bench.bench_parity --metrics      # retrieval metrics against CLIP_benchmark, open_clip, PAPERCLIP
"""

import argparse
import json
import tempfile
from pathlib import Path

from bench.harness.parity import ParitySettings, metric_parity, parity_lines, run_parity
from hubbleclip.io import atomic_write_json

if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="data/skyset", help="saved dataset (default: data/skyset)")
    p.add_argument("--arch", default="ViT-B-32", help="open_clip architecture (random init)")
    p.add_argument("--batch_size", type=int, default=8)
    p.add_argument("--steps", type=int, default=6)
    p.add_argument("--skip", type=int, default=2, help="first steps not timed")
    p.add_argument("--precision", default="fp32", choices=["fp32", "amp_bf16", "amp"])
    p.add_argument("--lora", action="store_true", help="also train ours with LoRA and check its export")
    p.add_argument(
        "--metrics",
        action="store_true",
        help="only compare retrieval metrics with CLIP_benchmark, open_clip and PAPERCLIP (no training)",
    )
    p.add_argument("--out", default="runs/bench/parity.json", help="results JSON")
    p.add_argument("--work", default="", help="working directory to keep (default: a temporary one)")
    a = p.parse_args()
    if a.metrics:
        result = metric_parity()
        atomic_write_json(a.out, result)
        print("\n".join(parity_lines(result)))
        print(
            "By design, with shared captions: ours (and CLIP_benchmark given our relevance) counts any "
            "image of the same caption or object as correct, so it is higher than the own-partner "
            "definitions; the pair-level image->text ranks count the other copies of a shared caption "
            "against the query, where open_clip's argsort and PAPERCLIP's top_k order ties by column."
        )
        raise SystemExit(0)
    settings = ParitySettings(a.arch, a.batch_size, a.steps, a.skip, precision=a.precision)
    with tempfile.TemporaryDirectory() as tmp:
        r = run_parity(a.data, Path(a.work or tmp), settings, lora=a.lora)
    atomic_write_json(a.out, r)
    theirs, ours = r["open_clip_train"], r["hubbleclip"]
    print(json.dumps({k: v for k, v in r.items() if k not in ("open_clip_train", "hubbleclip")}, indent=2))
    print(
        f"{a.arch} batch {a.batch_size}, {a.steps} steps ({a.steps - a.skip} timed), {a.precision}: "
        f"ours {ours['samples_per_s']:.2f} samples/s vs open_clip_train {theirs['samples_per_s']:.2f}: "
        f"ratio {r['ratio']:.3f} (target >= 0.95); peak RSS ours {ours['peak_rss_mb']:.0f} MB, "
        f"open_clip_train {theirs['peak_rss_mb']:.0f} MB ({r['rss_ratio']:.2f}x, target <= 1.1x); "
        f"loss max |diff| {r['loss_max_abs_diff']:.2e} over {a.steps} steps; "
        f"transform max |diff| {r['transform_max_abs_diff']:.1e}"
    )
    print("losses ours:", [round(s["loss"], 5) for s in ours["steps"]])
    print("losses open_clip_train:", [round(s["loss"], 5) for s in theirs["steps"]])
