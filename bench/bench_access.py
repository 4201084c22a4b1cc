"""Query-time cost of hiding proprietary rows, against no filtering in the same run.

    python -m bench.bench_access --index runs/demo/retrieval/index --similarity runs/demo/similarity/index

Marks a seeded 10% of the objects and images as proprietary, then prints the median text-search,
similar-page and selection re-ranking latency without a mask and with the anonymous mask, their
ratios, and the one-off cost of the first filtered query (it builds the visible BM25 fields).
"""

import argparse
import json

from bench.harness.access import bench_access


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--index", default="runs/index", help="retrieval index directory")
    parser.add_argument("--similarity", default=None, help="similarity index directory (optional)")
    parser.add_argument("--hidden", type=float, default=0.1, help="fraction of rows made proprietary")
    parser.add_argument("--repeats", type=int, default=3, help="passes over the query file")
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
    print(json.dumps(report))


if __name__ == "__main__":
    main()
