"""Validation loss and in-batch top-k accuracy over training steps.

python paper_figures/training_curves.py runs/demo/train/metrics.jsonl --out fig/training_curves
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
    args = parser.parse_args()
    print(training_curves.draw(MetricsLog(args.metrics).read(), args.out))
