"""Build the offline skyset: the same as `hubbleclip data build` (all flags and --config work)."""

import sys

from hubbleclip.cli import main

if __name__ == "__main__":
    sys.exit(main(["data", "build", *sys.argv[1:]]))
