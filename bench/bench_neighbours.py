"""All-pairs neighbour benchmarks.

``--mode auto`` (default): the automatic backend against faiss called directly with the same
factory and nprobe, on clustered 256-d unit vectors (``--vectors uniform`` for the worst case):
seconds, peak RSS and recall@100 per size (the issue-26 target at 1M: <= 10 min, recall >= 0.98,
<= 6 GB).  ``--mode exact``: top-1000 of 100,000 random 512-d vectors by exact search (target:
< 10 min, < 4 GiB) against scikit-learn's NearestNeighbors on a 20k subset.
Long: run it inside the heavy lock.

    flock /tmp/hubbleclip-heavy.lock python -m bench.bench_neighbours --sizes 10000,100000 --out auto.json
    flock /tmp/hubbleclip-heavy.lock python -m bench.bench_neighbours --mode exact --out exact.json
"""

import argparse

from bench.harness.neighbours import run_auto_benchmark, run_benchmark
from hubbleclip.io import atomic_write_json

if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mode", choices=["auto", "exact"], default="auto", help="which benchmark")
    parser.add_argument("--sizes", default="10000,100000", help="auto: comma-separated vector counts")
    parser.add_argument("--vectors", choices=["clustered", "uniform"], default="clustered", help="auto: data")
    parser.add_argument("--n", type=int, default=100_000, help="exact: vectors")
    parser.add_argument("--dim", type=int, default=None, help="dimension (auto 256, exact 512)")
    parser.add_argument("-k", type=int, default=None, help="neighbours per vector (auto 100, exact 1000)")
    parser.add_argument(
        "--subset", type=int, default=20_000, help="exact: vectors in the scikit-learn comparison"
    )
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    args = parser.parse_args()
    if args.mode == "auto":
        sizes = [int(s) for s in args.sizes.split(",") if s]
        result = run_auto_benchmark(sizes, args.dim or 256, args.k or 100, args.vectors)
    else:
        result = run_benchmark(args.n, args.dim or 512, args.k or 1000, args.subset)
        print(result)
    if args.out:
        atomic_write_json(args.out, result)
