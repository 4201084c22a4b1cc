"""Time the full skyset build against its floor: decoding every source image once.

    python -m bench.bench_skyset [--stellarium_dir DIR] [--kstars_dir DIR]

Prints the build's wall time, the time to just open and decode the same images in one process
(the baseline, measured in the same run), and their ratio.  Target: the full build under 120 s
on a 2-core machine once the inputs are on disk.
"""

import argparse
import tempfile
import time
import zipfile
from pathlib import Path

from PIL import Image

from hubbleclip.data.build import SkysetConfig, build_skyset
from hubbleclip.data.sources import first, stellarium


def decode_baseline(stellarium_dir: Path | None) -> tuple[float, int]:
    t, n = time.perf_counter(), 0
    if stellarium_dir:
        for im in stellarium.read_textures(stellarium_dir):
            Image.open(im.file).load()
            n += 1
    zpath = first.default_zip()
    with zipfile.ZipFile(zpath) as zf:
        for img in first.list_images(zpath):
            Image.open(zf.open(img.member)).load()
            n += 1
    return time.perf_counter() - t, n


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stellarium_dir", default=None)
    parser.add_argument("--kstars_dir", default=None)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    sdir = stellarium.find_stellarium_dir(args.stellarium_dir)
    base, n = decode_baseline(sdir)
    with tempfile.TemporaryDirectory() as tmp:
        cfg = SkysetConfig(
            out=f"{tmp}/skyset",
            stellarium_dir=args.stellarium_dir,
            kstars_dir=args.kstars_dir,
            workers=args.workers,
        )
        t = time.perf_counter()
        report = build_skyset(cfg)
        build = time.perf_counter() - t
    print(f"decode-only baseline: {n} images in {base:.1f} s")
    print(
        f"full build: {report['rows']} rows, {report['images']} images in {build:.1f} s "
        f"(stages: {report['timings_s']})"
    )
    print(
        f"ratio build / decode-only: {build / base:.2f}x; "
        f"target < 120 s: {'met' if build < 120 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
