"""Captions/second of the default caption model on this CPU, per batch size (ratios vs the first).

python bench/bench_captions.py --dataset data/skyset --n 24 --batch-sizes 1,8,16
"""

import argparse
import json

from hubbleclip.captions.benchmark import benchmark

if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", default="data/skyset", help="dataset dir or .csv/.jsonl of id,text")
    parser.add_argument("--model", default="smollm2", help="caption model spec")
    parser.add_argument("--n", type=int, default=16, help="texts per batch-size run")
    parser.add_argument("--batch-sizes", default="1,8", help="comma-separated; the first is the baseline")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    result = benchmark(args.dataset, args.model, args.n, tuple(int(b) for b in args.batch_sizes.split(",")))
    print(json.dumps(result, indent=2))
    for bs, run in result["runs"].items():
        print(
            f"batch {bs:>3}: {run['captions_per_second']:.3f} captions/s "
            f"(x{run['speedup_vs_first']} vs batch {args.batch_sizes.split(',')[0]}), "
            f"valid first try {run['valid_first_try']}/{result['texts']}, failed {run['failed']}"
        )
    best = max(run["captions_per_second"] for run in result["runs"].values())
    print(
        f"200 texts: ~{200 / best + result['load_s'] + result['warmup_s']:.0f} s at the best batch size "
        f"(incl. {result['load_s']} s load, {result['warmup_s']} s warm-up)"
    )
