"""All-pairs top-1000 for 100,000 random 512-d vectors (target: < 10 min, < 4 GiB peak) against
scikit-learn's NearestNeighbors on a 20k subset, with an exactness check against brute force.
Long: run it inside the heavy lock.

    flock /tmp/hubbleclip-heavy.lock python -m bench.bench_neighbours --out runs/bench/neighbours.json
"""

import argparse

from bench.harness.neighbours import run_benchmark
from hubbleclip.io import atomic_write_json

if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=100_000, help="vectors")
    parser.add_argument("--dim", type=int, default=512, help="dimension")
    parser.add_argument("-k", type=int, default=1000, help="neighbours per vector")
    parser.add_argument("--subset", type=int, default=20_000, help="vectors in the scikit-learn comparison")
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    args = parser.parse_args()
    result = run_benchmark(args.n, args.dim, args.k, args.subset)
    print(result)
    if args.out:
        atomic_write_json(args.out, result)
