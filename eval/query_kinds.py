"""Score the search on generated queries of each kind astronomers type: ranker alone vs resolver first.

    python eval/query_kinds.py --index runs/index --run_dir runs/kinds

Writes RUN_DIR/results.json and RUN_DIR/queries.json (schema in hubbleclip.retrieval.kinds_eval) and
prints the held-out table.
"""

from __future__ import annotations

import argparse
import sys

from hubbleclip.cli import setup_logging
from hubbleclip.config import add_config_arguments, config_from_args
from hubbleclip.retrieval.config import KindsConfig


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_config_arguments(parser, KindsConfig)
    args = parser.parse_args(argv)
    setup_logging()
    from hubbleclip.retrieval.kinds_eval import format_summary, run_kinds

    try:
        results = run_kinds(config_from_args(args, KindsConfig))
    except (FileNotFoundError, ValueError) as exc:
        print(f"query kinds: error: {exc}", file=sys.stderr)
        return 2
    print(format_summary(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
