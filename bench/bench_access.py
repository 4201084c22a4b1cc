"""Query-time cost of hiding proprietary rows, against no filtering in the same run.

    python -m bench.bench_access --index runs/demo/retrieval/index --similarity runs/demo/similarity/index

Marks a seeded 10% of the objects and images as proprietary, then prints the median text-search,
similar-page and selection re-ranking latency without a mask and with the anonymous mask, their
ratios, and the one-off cost of the first filtered query (it builds the visible BM25 fields).
Then, through the web app, the median time of the 404 for a not-yet-public image id against the
404 for an id that never existed: a ratio near 1 means the answer's timing does not tell them apart.
"""

import argparse
import json
import statistics
import time

import numpy as np
from fastapi.testclient import TestClient

from bench.harness.access import bench_access
from hubbleclip.access.policy import AccessTable
from hubbleclip.web.app import create_app
from hubbleclip.web.config import ServeConfig
from hubbleclip.web.engine import load_engine


def not_found_timing(index: str, similarity: str | None, hidden: float, pairs: int, seed: int = 0) -> dict:
    """Median ms of ``GET /api/images/ID`` for a hidden id and for that id plus a suffix (unknown),
    asked in alternation so that drifts in the machine's load hit both alike."""
    engine = load_engine(ServeConfig(index=index, similarity=similarity or ""))
    ids = engine.store.ids
    hide = np.random.default_rng(seed).random(len(ids)) < hidden
    engine.store.access = AccessTable.from_rows(
        ["2100-01-01" if h else None for h in hide], [None] * len(ids)
    )
    private = [i for i, h in zip(ids, hide) if h]
    times: dict[str, list[float]] = {"private": [], "unknown": []}
    with TestClient(create_app(engine), raise_server_exceptions=False) as client:
        client.get(f"/api/images/{private[0]}")  # warm-up
        for n in range(pairs):
            pid = private[n % len(private)]
            for kind, target in (("private", pid), ("unknown", pid + "-nope")):
                t0 = time.perf_counter()
                status = client.get(f"/api/images/{target}").status_code
                times[kind].append((time.perf_counter() - t0) * 1000)
                if status != 404:
                    raise SystemExit(f"{target}: expected 404, got {status}")
    medians = {kind: statistics.median(ms) for kind, ms in times.items()}
    return {**medians, "ratio": medians["private"] / medians["unknown"], "pairs": pairs}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--index", default="runs/index", help="retrieval index directory")
    parser.add_argument("--similarity", default=None, help="similarity index directory (optional)")
    parser.add_argument("--hidden", type=float, default=0.1, help="fraction of rows made proprietary")
    parser.add_argument("--repeats", type=int, default=3, help="passes over the query file")
    parser.add_argument("--pairs", type=int, default=120, help="private/unknown 404 pairs timed")
    args = parser.parse_args()
    report = bench_access(args.index, args.similarity, args.hidden, args.repeats)
    ts = report["text_search_ms"]
    print(
        f"text search over {report['objects']} objects ({report['hidden_objects']} hidden), "
        f"{report['queries']} queries: median {ts['no_filter']:.2f} ms unfiltered, {ts['filtered']:.2f} ms "
        f"filtered (x{ts['ratio']:.2f}); first filtered query {ts['first_filtered_query']:.0f} ms; "
        f"mask {report['mask_ms']:.3f} ms"
    )
    if "similar_ms" in report:
        s = report["similar_ms"]
        print(
            f"similar over {s['images']} images ({s['hidden_images']} hidden): "
            f"{s['similar_no_filter']:.2f} -> {s['similar_filtered']:.2f} ms (x{s['similar_ratio']:.2f}); "
            f"refine {s['refine_no_filter']:.2f} -> {s['refine_filtered']:.2f} ms (x{s['refine_ratio']:.2f})"
        )
    nf = report["not_found_ms"] = not_found_timing(args.index, args.similarity, args.hidden, args.pairs)
    print(
        f"404 latency, private vs unknown image id: {nf['private']:.2f} vs {nf['unknown']:.2f} ms, "
        f"median ratio {nf['ratio']:.3f} over {nf['pairs']} pairs"
    )
    print(json.dumps(report))


if __name__ == "__main__":
    main()
