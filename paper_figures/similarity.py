"""A similarity query with its neighbours, the refined ranking and quick-select representatives.

    python paper_figures/similarity.py runs/demo/similarity/similar.json --out-dir fig
"""

import argparse
import json
from pathlib import Path

from hubbleclip.figures import similarity
from hubbleclip.figures.make_all import dataset_image_loader

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", help="similar.json written by the demo's similarity stage")
    parser.add_argument("--out-dir", type=Path, default=Path("."))
    args = parser.parse_args()
    data = json.loads(Path(args.results).read_text())
    load = dataset_image_loader(data["dataset"])
    for q in data["queries"]:
        print(similarity.draw(q, load, args.out_dir / f"similarity_{q['query'].replace(' ', '_')}"))
