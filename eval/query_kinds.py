"""Score the search on generated queries of each kind astronomers type (designations, typos,
positions, "near X", brightness, query fields, common names of objects without an image,
genitive star names, ``ra=… dec=…``), without and with its resolver stage, e.g.

    python eval/query_kinds.py --index runs/demo/retrieval/index --out runs/kinds

Same options as `hubbleclip index kinds --help`; writes RUN_DIR/results.json and queries.json.
"""

import sys

from hubbleclip.cli import main

if __name__ == "__main__":
    sys.exit(main(["index", "kinds", *sys.argv[1:]]))
