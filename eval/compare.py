"""Base vs fine-tuned, side by side with paired deltas (writes results.json + results.md), e.g.

    python eval/compare.py --model base=lit-mini --model tuned=runs/lit-mini-skyset --dataset data/skyset

Same options as `hubbleclip compare --help`.
"""

import sys

from hubbleclip.cli import main

if __name__ == "__main__":
    sys.exit(main(["compare", *sys.argv[1:]]))
