"""Train a self-supervised similarity encoder (SimCLR NT-Xent, or GalaxIDNet's pair loss), e.g.

    python training/simclr.py --config training/configs/simclr_first.yaml

Same options as `hubbleclip similarity train --help`.  The encoder lands in RUN_DIR/export; use it
as `simclr:RUN_DIR` with `hubbleclip similarity index --encoder` or `similarity evaluate`.
"""

import sys

from hubbleclip.cli import main

if __name__ == "__main__":
    sys.exit(main(["similarity", "train", *sys.argv[1:]]))
