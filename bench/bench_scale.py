"""The cost curve: each stage at each size, with its time, peak RSS and log-log slope (issue 26).

    python bench/bench_scale.py --sizes 10000,100000 --out runs/bench-scale.json
    python bench/bench_scale.py --sizes 10000,100000,1000000 --out runs/bench-scale-1m.json  # alone on the machine

Stages, each in a fresh process: synthetic build (bench/harness/synthetic.py), embedding of the
object texts (a capped sample; larger sizes are projected from its throughput), the object index
built from the arrays, search p50/p99 over a mix of query kinds, all-pairs top-k with the automatic
neighbour backend (recall@k against exact search on sampled queries; uniform random vectors as a
second, worst-case row), paired image<->text evaluation in chunks, similar/refine p50/p99 over the
image vectors and `hubbleclip serve` (start-up, RSS, /api/search p50/p99).  Prints a table and the
slope of each stage; --out writes the same as JSON.
"""  # noqa: E501 - copyable shell commands

import argparse
import json

from harness.scale import STAGES, ScaleConfig, plot_curves, run_scale, table_rows, write_report

from hubbleclip.metrics.render import markdown_table


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split(",") if x.strip())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    d = ScaleConfig()
    parser.add_argument(
        "--sizes", type=_ints, default=d.sizes, help="comma-separated sizes (default 10000,100000)"
    )
    parser.add_argument("--out", default="", help="write the results as JSON here")
    parser.add_argument("--figure", default="", help="with --out: the log-log figure, FIGURE.png and .pdf")
    parser.add_argument("--work", default=d.work, help="working directory (one folder per size)")
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument("--real_index", default="", help="a retrieval index whose embeddings are jittered")
    parser.add_argument("--model", default=d.model, help="the text model of the embedding and search stages")
    parser.add_argument(
        "--embed_cap", type=int, default=d.embed_cap, help="texts embedded (the rest projected)"
    )
    parser.add_argument(
        "--eval_queries",
        type=int,
        default=d.eval_queries,
        help="evaluation queries a direction (the rest projected)",
    )
    parser.add_argument("--queries", type=int, default=d.queries, help="search queries timed")
    parser.add_argument("--k", type=int, default=d.k, help="neighbours per vector in all-pairs")
    parser.add_argument("--recall_queries", type=int, default=d.recall_queries)
    parser.add_argument(
        "--stages", default=",".join(STAGES), help=f"comma-separated subset of {','.join(STAGES)}"
    )
    args = parser.parse_args()
    stages = tuple(s for s in args.stages.split(",") if s)
    if unknown := set(stages) - set(STAGES):
        parser.error(f"--stages: unknown {sorted(unknown)}; expected some of {','.join(STAGES)}")
    cfg = ScaleConfig(
        sizes=args.sizes,
        work=args.work,
        seed=args.seed,
        real_index=args.real_index,
        model=args.model,
        embed_cap=args.embed_cap,
        queries=args.queries,
        eval_queries=args.eval_queries,
        k=args.k,
        recall_queries=args.recall_queries,
        stages=stages,
    )
    runs = run_scale(cfg)
    print()
    print(markdown_table(*table_rows(runs)))
    if args.out:
        result = write_report(args.out, runs, cfg)
        print(
            json.dumps(
                {"recall": result["recall"], "slopes": {k: v["slope"] for k, v in result["stages"].items()}}
            )
        )
        if args.figure:
            print("figure:", *plot_curves(result, args.figure))


if __name__ == "__main__":
    main()
