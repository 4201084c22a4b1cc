"""PAPERCLIP's ablation figure from a study's results (``hubbleclip study`` writes them).

python paper_figures/study.py runs/demo/study/eval/results.json --out fig/study
"""

from __future__ import annotations

import argparse

from hubbleclip.evaluation import load_results
from hubbleclip.figures.study import draw


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", help="the study's eval/results.json")
    parser.add_argument("--out", default="fig/study", help="output stem (.png and .pdf)")
    args = parser.parse_args()
    print(draw(load_results(args.results), args.out))


if __name__ == "__main__":
    main()
