"""Median text-query latency over the whole corpus, beside rank_bm25 measured in the same run.

    python -m bench.bench_search --index runs/index [--repeats 3]

Prints the median (and p90) milliseconds of the full search, of the same search without its
resolver stage (the search before it, timed in turn on the same searcher), of BM25 alone with
bm25s and of rank_bm25.BM25Okapi.get_scores over the same tokens, their ratios, and the largest
difference between the two engines' scores.  Targets: full search median under 20 ms after load,
and within 1.2x of the search without the resolver stage.
"""

import argparse
import json

from bench.harness.search import bench_search


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--index", default="runs/index", help="index directory (hubbleclip index build)")
    parser.add_argument("--queries", default=None, help="text query file (default: the packaged one)")
    parser.add_argument("--repeats", type=int, default=3, help="passes over the query file")
    args = parser.parse_args()
    report = bench_search(args.index, args.queries, args.repeats)
    med = report["median_ms"]
    print(
        f"{report['n_queries']} queries x {report['repeats']} over {report['n_objects']} objects "
        f"(ranking: {report['ranking']}, index load {report['load_ms']:.0f} ms)"
    )
    print(
        f"median ms: search {med['search']:.2f}  without the resolver stage "
        f"{med['search_without_resolver']:.2f}  bm25s {med['bm25s']:.3f}  rank_bm25 {med['rank_bm25']:.2f}"
    )
    print(f"search / search without the resolver stage = {report['search_over_without_resolver']:.3f}x")
    print(
        f"rank_bm25 / bm25s = {report['rank_bm25_over_bm25s']:.1f}x   "
        f"full search / rank_bm25 alone = {report['search_over_rank_bm25']:.2f}x   "
        f"search under 20 ms: {report['search_under_20ms']}"
    )
    print(
        f"bm25s vs rank_bm25 scores: max abs diff {report['bm25_max_abs_diff']:.2e}, "
        f"max rel diff {report['bm25_max_rel_diff']:.2e}"
    )
    print(json.dumps(report))


if __name__ == "__main__":
    main()
