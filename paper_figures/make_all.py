"""Regenerate every paper figure and REPORT.md from a demo run directory's saved results.

python paper_figures/make_all.py --run_dir runs/demo [--out runs/demo/figures]
"""

import argparse
from pathlib import Path

from hubbleclip.demo.layout import RunLayout
from hubbleclip.demo.report import write_report
from hubbleclip.figures.make_all import make_all

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run_dir", type=Path, default=Path("runs/demo"))
    parser.add_argument("--out", type=Path, default=None, help="figure directory (default RUN_DIR/figures)")
    args = parser.parse_args()
    layout = RunLayout(args.run_dir)
    figures = make_all(layout, args.out or layout.figures)
    print(f"{len(figures)} figures; report: {write_report(layout, figures)}")
