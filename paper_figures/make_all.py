"""Regenerate every paper figure and REPORT.md from a demo run directory's saved results.

python paper_figures/make_all.py --run-dir runs/demo [--out runs/demo/figures]
"""

import argparse
from pathlib import Path

from hubbleclip.figures.make_all import make_all
from hubbleclip.figures.report import write_report

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", type=Path, default=Path("runs/demo"))
    parser.add_argument("--out", type=Path, default=None, help="figure directory (default RUN_DIR/figures)")
    args = parser.parse_args()
    figures = make_all(args.run_dir, args.out or args.run_dir / "figures")
    print(f"{len(figures)} figures; report: {write_report(args.run_dir, figures)}")
