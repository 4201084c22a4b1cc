"""Retrieval metrics only (image→text and text→image, pooled and per source), e.g.

    python eval/retrieval.py --model base=lit-mini --dataset data/skyset --split test --out runs/eval-retrieval

Same options as `hubbleclip evaluate --help`.
"""  # noqa: E501 - copyable shell command

import sys

from hubbleclip.cli import main

if __name__ == "__main__":
    sys.exit(main(["evaluate", "--tasks", "retrieval", *sys.argv[1:]]))
