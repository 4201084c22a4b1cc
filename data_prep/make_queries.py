"""Regenerate the graded text queries (hubbleclip/resources/queries/text_queries.json).

    python data_prep/make_queries.py --dataset data/skyset

The procedure (hubbleclip.search.queries.generate_queries) draws every choice from a seeded
random generator over the skyset's objects plus the named stars, so it is reproducible.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="data/skyset", help="skyset DatasetDict directory")
    parser.add_argument("--out", default=None, help="output JSON (default: the packaged query file)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no_stars", action="store_true", help="leave out the named bright stars")
    args = parser.parse_args(argv)
    from hubbleclip.search.queries import COUNTS, cross_family_overlap, make_queries_file

    try:
        path, queries, eligible = make_queries_file(
            args.dataset, args.out, args.seed, include_stars=not args.no_stars
        )
    except (FileNotFoundError, ValueError) as exc:
        print(f"make_queries: error: {exc}", file=sys.stderr)
        return 2
    counts = Counter((q.kind, q.split) for q in queries)
    print(
        f"wrote {path}: {len(queries)} queries; "
        + ", ".join(f"{k}/{s} {n}" for (k, s), n in sorted(counts.items()))
    )
    print("eligible (drawn): " + ", ".join(f"{k} {n} ({COUNTS[k]})" for k, n in eligible.items()))
    overlap = cross_family_overlap(queries)
    print(
        "held-out queries with a relevant object that is relevant in a training query of the other "
        "family: " + ", ".join(f"{family} {share:.0%}" for family, share in overlap.items())
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
