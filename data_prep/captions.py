"""Add LLM captions to a dataset: same as `hubbleclip captions generate` (see --help)."""

import sys

from hubbleclip.cli import main

if __name__ == "__main__":
    sys.exit(main(["captions", "generate", *sys.argv[1:]]))
