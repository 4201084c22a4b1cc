"""Training pairs/s of our trainer vs a minimal plain-PyTorch loop (same model, batch, data), and peak memory.

python -m bench.bench_train --data data/skyset              # lit-mini, batch 32 (target ratio >= 0.9)
python -m bench.bench_train --spec RUN/export --steps 20    # quick check, any saved model
"""

import argparse
import json

from bench.harness.train import run_bench

if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--spec", default="lit-mini", help="model spec (default: lit-mini)")
    p.add_argument("--data", default="data/skyset", help="saved skyset (default: data/skyset)")
    p.add_argument("--batch_size", type=int, default=32)
    p.add_argument("--steps", type=int, default=21, help="steps per loop, the first --warmup not timed")
    p.add_argument("--warmup", type=int, default=2)
    a = p.parse_args()
    r = run_bench(a.spec, a.data, a.batch_size, a.steps, a.warmup)
    print(json.dumps(r, indent=2))
    print(
        f"ours {r['ours']['pairs_per_s']:.1f} pairs/s vs "
        f"plain PyTorch {r['plain']['pairs_per_s']:.1f} pairs/s: "
        f"ratio {r['ratio']:.3f} (target >= 0.90); peak RSS ours {r['ours']['peak_rss_mb']:.0f} MB, "
        f"plain {r['plain']['peak_rss_mb']:.0f} MB"
    )
