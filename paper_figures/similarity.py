"""A similarity query with its neighbours, the refined ranking and quick-select representatives.

python paper_figures/similarity.py runs/demo/similarity/similar.json --out fig
"""

import argparse
from pathlib import Path

from hubbleclip.figures.make_all import similarity_figures

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, help="similar.json written by the demo's similarity stage")
    parser.add_argument("--out", type=Path, default=Path("."))
    args = parser.parse_args()
    for paths in similarity_figures(args.results, args.out).values():
        print(*paths)
