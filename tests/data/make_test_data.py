"""Regenerate the small real-image fixtures in tests/data from the original packages.

    python tests/data/make_test_data.py --stellarium_dir ~/.cache/hubbleclip/debian/root/usr/share/stellarium

Stellarium images are copied from Debian's stellarium-data (GPL-2+, per-image credits kept in
textures.json) and shrunk to at most 96 px; FIRST images come unchanged from the firstgalaxydata
wheel's galaxy_data.zip (MIT).
"""

import argparse
import importlib.util
import io
import json
import re
import zipfile
from pathlib import Path

from PIL import Image

HERE = Path(__file__).parent
STELLARIUM_IMAGES = ["m31.png", "m42.png", "m51-vasey.png", "m57dumont.png", "m13.png", "n7293.png",
                     "ic418.png", "n3242.png", "m68.png", "n4526.png", "sh2-1-1.png", "barnard22.png"]
FIRST_PER_CLASS = 3


def copy_stellarium(src: Path) -> None:
    neb = src / "nebulae" / "default"
    out = HERE / "stellarium" / "nebulae" / "default"
    out.mkdir(parents=True, exist_ok=True)
    text = (neb / "textures.json").read_text()
    # keep the real entries verbatim (with their lenient numbers like -.97)
    blocks = re.findall(r"\{\s*\"imageCredits\".*?\n\t\}", text, flags=re.S)
    keep = [b for b in blocks if re.search(r'"imageUrl"\s*:\s*"([^"]+)"', b).group(1) in STELLARIUM_IMAGES]
    header = text[: text.index("[") + 1]
    (out / "textures.json").write_text(header + "\n\t" + ",\n\t".join(keep) + "\n\t]\n}\n")
    for name in STELLARIUM_IMAGES:
        im = Image.open(neb / name)
        im.thumbnail((96, 96))
        im.save(out / name, optimize=True)
    wanted = {("NGC", "224"), ("NGC", "1976"), ("NGC", "5194"), ("NGC", "6720"), ("NGC", "6205"),
              ("NGC", "7293"), ("IC", "418"), ("NGC", "3242"), ("SH2", "1"), ("B", "22"),
              # objects without an image: one keyed by Messier number, three with star names,
              # and M51's companion, which one source also calls the Whirlpool Galaxy
              ("M", "45"), ("NGC", "884"), ("NGC", "362"), ("NGC", "5139"), ("NGC", "5195")}
    lines = [l for l in (neb / "names.dat").read_text().splitlines()
             if not l.startswith("#") and (l[:5].strip(), l[5:20].strip()) in wanted]
    (out / "names.dat").write_text("# subset of Stellarium's names.dat\n" + "\n".join(lines) + "\n")


def copy_first() -> None:
    spec = importlib.util.find_spec("firstgalaxydata")
    src = zipfile.ZipFile(Path(spec.submodule_search_locations[0]) / "galaxy_data.zip")
    out = HERE / "first"
    out.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    with zipfile.ZipFile(out / "galaxy_data.zip", "w") as dst:
        for name in sorted(src.namelist()):
            parts = name.split("/")
            if len(parts) == 4 and parts[1] == "train" and parts[3].endswith(".png"):
                label = parts[2]
                if counts.get(label, 0) < FIRST_PER_CLASS:
                    counts[label] = counts.get(label, 0) + 1
                    dst.writestr(name, src.read(name))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stellarium_dir", type=Path, required=True)
    args = parser.parse_args()
    copy_stellarium(args.stellarium_dir)
    copy_first()
