"""SIMBAD archive build throughput against loopback fake services with realistic latencies,
extrapolated to 13k objects at the services' published rate limits (target: under 1 hour).

    python -m bench.bench_archives [--objects 600] [--scale 10]

Run as a module from the repository root (the fake services live in tests/fake_services.py).
Prints seconds per object and the estimated full-build hours for the concurrent, batched builder
and for a one-request-at-a-time baseline measured in the same run, and their ratio.
"""

import argparse
import json
import tempfile
from pathlib import Path

from bench.harness.archives import benchmark_simbad
from tests.fake_services import FakeServices


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--objects", type=int, default=600, help="objects fetched by the concurrent builder")
    parser.add_argument(
        "--baseline-objects", type=int, default=20, help="objects fetched by the sequential baseline"
    )
    parser.add_argument(
        "--scale", type=float, default=10.0, help="time compression (latencies / scale, rates x scale)"
    )
    parser.add_argument("--target", type=int, default=13_000, help="objects of the full build")
    parser.add_argument("--tap_latency", type=float, default=2.0, help="seconds per SIMBAD TAP query")
    parser.add_argument("--crossref_latency", type=float, default=1.5, help="seconds per Crossref request")
    parser.add_argument("--hips2fits-latency", type=float, default=1.5, help="seconds per 500x500 cut-out")
    args = parser.parse_args()
    with FakeServices(n_objects=args.objects, malformed=0) as fake, tempfile.TemporaryDirectory() as tmp:
        fake.latency = {
            "/simbad/sync": args.tap_latency / args.scale,
            "/crossref/works": args.crossref_latency / args.scale,
            "/hips2fits": args.hips2fits_latency / args.scale,
        }
        result = benchmark_simbad(
            fake.urls(), Path(tmp), args.objects, args.baseline_objects, args.scale, args.target
        )
    print(json.dumps(result, indent=2))
    hours = result["estimated_hours"]
    print(
        f"{args.target} objects: {hours['ours']} h "
        f"(floor at hips2fits' limit {hours['rate_limit_floor']} h) vs "
        f"baseline {hours['baseline']} h; speed-up x{result['speedup_vs_baseline']}; "
        f"under 1 hour: {result['under_one_hour']}"
    )


if __name__ == "__main__":
    main()
