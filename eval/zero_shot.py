"""Zero-shot class ranking only (FIRST morphologies, OpenNGC classes), e.g.

    python eval/zero_shot.py --model base=lit-mini --dataset data/skyset --split test --out runs/eval-zero-shot

Same options as `hubbleclip evaluate --help`.
"""  # noqa: E501 - copyable shell command

import sys

from hubbleclip.cli import main

if __name__ == "__main__":
    sys.exit(main(["evaluate", "--tasks", "zero_shot", *sys.argv[1:]]))
