"""Galaxy10 DECaLS from the public HDF5 file a user downloaded (Leung & Bovy; 17,736 galaxies,
256x256x3 DECaLS images, 10 Galaxy Zoo morphology classes).

The file is read in chunks (it is ~2.5 GB), each image stored once as a PNG in the cache, so a
rerun only encodes what is missing.  A label outside the 10 classes is skipped and reported.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np

from hubbleclip.archives.common import BuildReport, cache_dir, check_output, constellations, image_path, save
from hubbleclip.archives.config import GALAXY10_DOWNLOAD, Galaxy10Config
from hubbleclip.archives.images import save_png
from hubbleclip.data.text import sexagesimal
from hubbleclip.errors import UserError

log = logging.getLogger(__name__)

CREDIT = "Galaxy10 DECaLS (Leung & Bovy 2019); images: DESI Legacy Imaging Surveys; labels: Galaxy Zoo DECaLS"
# class index -> (label, science use cases); order as in the Galaxy10 DECaLS documentation
CLASSES = (
    ("disturbed galaxy", "galaxy interactions, tidal disturbances"),
    ("merging galaxies", "interacting galaxies, galaxy mergers"),
    ("round smooth galaxy", "elliptical galaxies, old stellar populations"),
    ("in-between round smooth galaxy", "elliptical galaxies, galaxy morphology"),
    ("cigar-shaped smooth galaxy", "elongated smooth galaxies, galaxy morphology"),
    ("barred spiral galaxy", "bars and spiral structure, galaxy dynamics"),
    ("unbarred tight spiral galaxy", "tightly wound spiral arms, star formation in galaxies"),
    ("unbarred loose spiral galaxy", "loosely wound spiral arms, star formation in galaxies"),
    ("edge-on galaxy without bulge", "thin galaxy discs seen edge-on"),
    ("edge-on galaxy with bulge", "galaxy bulges and discs seen edge-on"),
)
REQUIRED = ("images", "ans")


def _column(f, name: str, n: int, where: Path) -> np.ndarray:
    if name not in f:
        return np.full(n, np.nan)
    data = np.asarray(f[name][:n], dtype=np.float64)
    if data.shape != (n,):
        raise UserError(f"{where}: dataset {name!r} has shape {data.shape}, expected ({n},)")
    return data


def _save_png(array: np.ndarray, path: Path) -> str:
    from PIL import Image

    return save_png(Image.fromarray(array), path)


def build(cfg: Galaxy10Config, out_dir: Path, overwrite: bool = False) -> dict:
    import h5py

    if not cfg.path:
        raise UserError(f"galaxy10: set path=FILE to the downloaded Galaxy10_DECals.h5 ({GALAXY10_DOWNLOAD})")
    src = Path(cfg.path).expanduser()
    if not src.is_file():
        raise FileNotFoundError(f"galaxy10: {src} does not exist (download it from {GALAXY10_DOWNLOAD})")
    check_output(out_dir, overwrite)
    report = BuildReport("galaxy10")
    root = cache_dir(cfg.http, "galaxy10")
    try:
        f = h5py.File(src, "r")
    except OSError as exc:
        raise UserError(f"galaxy10: {src} is not an HDF5 file ({exc})") from exc
    with f:
        missing = [k for k in REQUIRED if k not in f]
        if missing:
            raise UserError(
                f"galaxy10: {src} lacks dataset(s) {missing}; expected 'images' uint8 [N,256,256,3], "
                "'ans' labels 0-9, optional 'ra', 'dec', 'redshift'"
            )
        imgs = f["images"]
        if imgs.ndim != 4 or imgs.shape[-1] != 3 or imgs.dtype != np.uint8:
            raise UserError(
                f"galaxy10: {src}: 'images' is {imgs.dtype} {imgs.shape}, expected uint8 [N,H,W,3]"
            )
        n = imgs.shape[0] if cfg.max_images is None else min(cfg.max_images, imgs.shape[0])
        labels = np.asarray(f["ans"][:n])
        if labels.shape != (n,):
            raise UserError(f"galaxy10: {src}: 'ans' has shape {f['ans'].shape}, expected ({imgs.shape[0]},)")
        ra, dec, z = (_column(f, k, n, src) for k in ("ra", "dec", "redshift"))
        have_pos = np.isfinite(ra) & np.isfinite(dec)
        consts = dict(
            zip(
                np.flatnonzero(have_pos).tolist(),
                constellations(ra[have_pos].tolist(), dec[have_pos].tolist()),
            )
        )
        file_key = f"{src.name}:{src.stat().st_size}"  # another file never reuses these PNGs
        rows = []
        for start in range(0, n, cfg.chunk):
            block = imgs[start : min(n, start + cfg.chunk)]
            for j, array in enumerate(block):
                i = start + j
                label = int(labels[i]) if np.isfinite(labels[i]) else -1
                if not 0 <= label < len(CLASSES):
                    report.skip(f"galaxy10 #{i}", f"label {labels[i].item()} outside 0-{len(CLASSES) - 1}")
                    continue
                path = image_path(root, f"{file_key}:{i}")
                image = str(path) if path.exists() else _save_png(array, path)
                name, uses = CLASSES[label]
                where = f" in {consts[i]}, {sexagesimal(ra[i], dec[i])}" if i in consts else ""
                redshift = f", redshift {z[i]:.3f}" if math.isfinite(z[i]) else ""
                rows.append(
                    {
                        "id": f"galaxy10:{i:05d}",
                        "source": "galaxy10",
                        "image": image,
                        "object_id": f"galaxy10:{i:05d}",
                        "names": [f"Galaxy10 DECaLS #{i}"]
                        + ([f"DECaLS J{ra[i]:.4f}{dec[i]:+.4f}"] if i in consts else []),
                        "type": name,
                        "ra_deg": float(ra[i]),
                        "dec_deg": float(dec[i]),
                        "mag": float("nan"),
                        "text": (
                            f"A {name} (Galaxy10 DECaLS class {label}) imaged by the DESI Legacy Imaging "
                            f"Surveys in g, r and z and classified by Galaxy Zoo volunteers{where}{redshift}."
                        ),
                        "caption": f"{name}; {uses}",
                        "credit": CREDIT,
                    }
                )
            log.info("galaxy10: %d/%d images", min(n, start + cfg.chunk), n)
    report.notes["classes"] = {CLASSES[k][0]: int((labels == k).sum()) for k in range(len(CLASSES))}
    return save(rows, out_dir, report.as_dict({}), cfg.seed, overwrite, cfg)
