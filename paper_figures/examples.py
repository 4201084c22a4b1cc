"""Image→text top-5 descriptions per image and text→image top images per query, base vs fine-tuned.

    python paper_figures/examples.py runs/demo/compare/examples.json --out-dir fig
"""

import argparse
import json
from pathlib import Path

from hubbleclip.figures import examples
from hubbleclip.figures.make_all import dataset_image_loader

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("examples", help="examples.json written by the demo's compare stage")
    parser.add_argument("--out-dir", type=Path, default=Path("."))
    args = parser.parse_args()
    ex = json.loads(Path(args.examples).read_text())
    load = dataset_image_loader(ex["dataset"], ex["split"])
    print(examples.image_to_text(ex, [load(i["row"]) for i in ex["images"]], args.out_dir / "image_to_text"))
    print(examples.text_to_image(ex, load, args.out_dir / "text_to_image"))
