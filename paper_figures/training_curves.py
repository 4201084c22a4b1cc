"""Validation loss and in-batch top-k accuracy over training steps; with --paper, PAPERCLIP's own
plot: the text→image top-10 of the own image in fixed batches of 100, with validation loss.

python paper_figures/training_curves.py runs/demo/train/metrics.jsonl --out fig/training_curves
python paper_figures/training_curves.py runs/paperclip/metrics.jsonl --paper --out fig/training_paper
"""

import argparse

from hubbleclip.figures import training_curves
from hubbleclip.runs import MetricsLog

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("metrics", help="metrics.jsonl of a training run")
    parser.add_argument(
        "--out", default="training_curves", help="output path without extension (PNG and PDF)"
    )
    parser.add_argument("--paper", action="store_true", help="the paper's metric (val_pair_t2i_top*)")
    args = parser.parse_args()
    draw = training_curves.draw_paper if args.paper else training_curves.draw
    print(draw(MetricsLog(args.metrics).read(), args.out))
