"""Load training images from a saved dataset (skyset), a zip of images or a folder of images."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from PIL import Image

from hubbleclip.errors import UserError
from hubbleclip.similarity.index import image_rows, load_image

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".gif")


def load_images(
    path: str | Path, *, splits: list[str] | None = None, sources: list[str] | None = None, limit: int = 0
) -> list[Image.Image]:
    """RGB PIL images.  A zip or folder is read recursively; files with the same name in several
    sub-folders (e.g. FIRST's train/valid/test copies) are read once."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"image source {path} does not exist")
    if path.is_dir() and ((path / "dataset_dict.json").is_file() or (path / "dataset_info.json").is_file()):
        data, items = image_rows(path, splits, sources)
        items = items[:limit] if limit else items
        return [load_image(data[it["split"]], it["row"]) for it in items]
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as zf:
            names = _unique([n for n in sorted(zf.namelist()) if n.lower().endswith(IMAGE_SUFFIXES)], limit)
            images = [Image.open(io.BytesIO(zf.read(n))).convert("RGB") for n in names]
    elif path.is_dir():
        files = _unique(
            [str(p) for p in sorted(path.rglob("*")) if p.suffix.lower() in IMAGE_SUFFIXES], limit
        )
        images = [Image.open(f).convert("RGB") for f in files]
    else:
        raise UserError(f"{path}: expected a saved dataset directory, a .zip of images or a folder of images")
    if not images:
        raise UserError(f"{path}: no images ({', '.join(IMAGE_SUFFIXES)}) found")
    return images


def _unique(names: list[str], limit: int) -> list[str]:
    seen, out = set(), []
    for name in names:
        base = name.rsplit("/", 1)[-1]
        if base not in seen:
            seen.add(base)
            out.append(name)
    return out[:limit] if limit else out
