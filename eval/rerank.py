"""Train the LambdaMART reranker and compare it with random, BM25-only and CLIP-only rankings.

    python eval/rerank.py --index runs/index --out runs/rerank

Writes RUN_DIR/results.json (schema in hubbleclip.search.evaluate), RUN_DIR/ranker/ and, with
--install true (default), INDEX/ranker/ so that `hubbleclip search` uses the learned ranker.
"""

from __future__ import annotations

import argparse
import sys

from hubbleclip.cli import setup_logging
from hubbleclip.config import add_config_arguments, config_from_args
from hubbleclip.search.config import RerankConfig


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_config_arguments(parser, RerankConfig)
    args = parser.parse_args(argv)
    setup_logging()
    from hubbleclip.search.evaluate import format_summary, run_rerank

    try:
        results = run_rerank(config_from_args(args, RerankConfig))
    except (FileNotFoundError, ValueError) as exc:
        print(f"rerank: error: {exc}", file=sys.stderr)
        return 2
    print(format_summary(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
