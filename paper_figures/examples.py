"""Image→text top-5 descriptions per image and text→image top images per query, base vs fine-tuned.

python paper_figures/examples.py runs/demo/compare/examples.json --out fig
"""

import argparse
from pathlib import Path

from hubbleclip.figures.make_all import example_figures

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("examples", type=Path, help="examples.json written by the demo's compare stage")
    parser.add_argument("--out", type=Path, default=Path("."))
    args = parser.parse_args()
    for paths in example_figures(args.examples, args.out).values():
        print(*paths)
