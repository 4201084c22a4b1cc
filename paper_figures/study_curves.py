"""PAPERCLIP's main figure: retrieval accuracy vs retrieved fraction for every study cell on one axis,
both directions, with 95% bands (``hubbleclip study`` writes the results).

python paper_figures/study_curves.py runs/demo/study/eval/results.json --out fig/study_curves [--subset first]
"""

import argparse

from hubbleclip.evaluation import load_results
from hubbleclip.figures import study_curves

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", help="the study's eval/results.json")
    parser.add_argument("--out", default="fig/study_curves", help="output stem (.png and .pdf)")
    parser.add_argument("--subset", default="all", help="'all' or a source name")
    args = parser.parse_args()
    print(study_curves.draw(load_results(args.results), args.out, subset=args.subset))
