"""Captions/second of the default caption model on this CPU: the path before the shared-prefix change
(one process, every prompt prefilled in full, batches of 8) against what `captions generate` does by
default now, on the same texts in the same run, and their ratio.

python -m bench.bench_captions --dataset data/skyset --n 32 --out runs/bench_captions.json
"""

import argparse
import json

from bench.harness.captions import benchmark
from hubbleclip.io import atomic_write_text

if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", default="data/skyset", help="dataset dir or .csv/.jsonl of id,text")
    parser.add_argument("--model", default="smollm2", help="caption model spec (a local transformers model)")
    parser.add_argument("--n", type=int, default=32, help="texts per path")
    parser.add_argument("--threads", type=int, default=2, help="torch threads of the old path")
    parser.add_argument("--out", default=None, help="also write the JSON result here")
    args = parser.parse_args()
    result = benchmark(args.dataset, args.model, args.n, threads=args.threads)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        atomic_write_text(args.out, text + "\n")
    for name, run in result["runs"].items():
        q = run["quality"]
        print(
            f"{name:>4} {run['settings']}: {run['captions_per_second']:.3f} captions/s "
            f"({run['generated'] + run['failed']} texts in {run['seconds']:.1f} s; load + warm-up "
            f"{run['load_and_warmup_s']} s apart), "
            f"valid first try {run['valid_first_try']}/{result['texts']}, "
            f"failed {run['failed']}, schema valid {q['schema_valid_rate']}, "
            f"grounded keywords {q['grounded_keywords']}"
        )
    new = result["runs"]["new"]
    print(
        f"new/old: x{new['speedup_vs_old']} captions/s; same captions as old {new['same_captions_as_old']}"
        f"/{result['texts']}"
    )
