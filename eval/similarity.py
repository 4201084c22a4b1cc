"""Label precision@10, mAP@100 and GalaxIDNet's mini-search loose accuracy of image encoders on
the FIRST radio galaxies (real labels), e.g.

    python eval/similarity.py --dataset data/skyset --encoders random,imagenet,lit-mini,simclr:runs/simclr-first

Same options as `hubbleclip similarity evaluate --help`; writes OUT/results.json and results.md.
"""  # noqa: E501 - copyable shell command

import sys

from hubbleclip.cli import main

if __name__ == "__main__":
    sys.exit(main(["similarity", "evaluate", *sys.argv[1:]]))
