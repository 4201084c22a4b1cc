"""Retrieval accuracy vs retrieved fraction, both directions, base vs fine-tuned, random diagonal.

python paper_figures/retrieval_curve.py runs/demo/compare/results.json --out fig/retrieval_curve [--subset first]
"""  # noqa: E501 - copyable shell command

import argparse

from hubbleclip.evaluation import load_results
from hubbleclip.figures import retrieval_curve

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", help="results.json written by `hubbleclip compare`")
    parser.add_argument(
        "--out", default="retrieval_curve", help="output path without extension (PNG and PDF)"
    )
    parser.add_argument("--subset", default="all", help="'all' or a source name")
    args = parser.parse_args()
    print(retrieval_curve.draw(load_results(args.results), args.out, subset=args.subset))
