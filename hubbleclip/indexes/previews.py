"""Previews of the images an index serves, packed into the index so that it answers without the
dataset it was built from.

``previews.bin`` holds every preview's bytes one after another, ``previews.npy`` the int64 offsets
[N + 1] (preview ``i`` is ``bin[offsets[i]:offsets[i + 1]]``) and ``previews.parquet`` one row per
preview: id, object_id, names, type, source, credit.  An image whose longest side is at most
``MAX_SIDE`` px and that is a PNG, JPEG or WebP is kept byte for byte (a re-encode would change it,
and the private-data tests compare bytes); a larger or other one is shrunk to ``MAX_SIDE`` px and
stored as WebP quality ``QUALITY``.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

MAX_SIDE = 512
QUALITY = 85
KEEP_FORMATS = ("PNG", "JPEG", "WEBP")
BIN, OFFSETS, TABLE = "previews.bin", "previews.npy", "previews.parquet"
META = ("id", "object_id", "names", "type", "source", "credit")


def encoded_bytes(cell: dict) -> bytes:
    """The bytes of an undecoded dataset image cell (``{"bytes", "path"}``)."""
    return cell["bytes"] if cell.get("bytes") else Path(cell["path"]).read_bytes()


def preview_bytes(data: bytes) -> bytes:
    """The preview of an encoded image (see the module docstring)."""
    with Image.open(io.BytesIO(data)) as image:
        if max(image.size) <= MAX_SIDE and image.format in KEEP_FORMATS:
            return data
        image = image.convert("RGB")
        image.thumbnail((MAX_SIDE, MAX_SIDE))
        out = io.BytesIO()
        image.save(out, "WEBP", quality=QUALITY)
        return out.getvalue()


def write_previews(dest: Path, records: list[dict], images: Iterable[bytes]) -> int:
    """Write the three files into ``dest``: ``records`` (META fields) and ``images`` (encoded bytes)
    in the same order; returns the number written."""
    offsets = [0]
    with open(dest / BIN, "wb") as out:
        for data in images:
            preview = preview_bytes(data)
            out.write(preview)
            offsets.append(offsets[-1] + len(preview))
    if len(offsets) - 1 != len(records):
        raise ValueError(f"{len(records)} image records but {len(offsets) - 1} images")
    np.save(dest / OFFSETS, np.asarray(offsets, np.int64))
    columns = {f: [r.get(f) or ("" if f != "names" else []) for r in records] for f in META}
    pq.write_table(pa.table(columns), dest / TABLE)
    return len(records)


class Previews:
    """The packed previews of an index directory, by image id (memory-mapped)."""

    def __init__(self, root: Path):
        self.root = root
        self.offsets = np.load(root / OFFSETS)
        self._bin = np.memmap(root / BIN, np.uint8, mode="r") if self.offsets[-1] else np.zeros(0, np.uint8)
        rows = pq.read_table(root / TABLE).to_pylist()
        self.ids = [r["id"] for r in rows]
        self._meta = {r["id"]: r for r in rows}
        self.position = {image_id: i for i, image_id in enumerate(self.ids)}
        if len(self.offsets) != len(self.ids) + 1 or self.offsets[-1] != len(self._bin):
            raise ValueError(
                f"{root / OFFSETS}: offsets for {len(self.offsets) - 1} previews ending at byte "
                f"{self.offsets[-1]}, but {len(self.ids)} records and {len(self._bin)} bytes in {BIN}"
            )

    def __len__(self) -> int:
        return len(self.ids)

    def meta(self, image_id: str) -> dict:
        return self._meta[image_id]

    def data(self, image_id: str) -> bytes:
        i = self.position[image_id]
        return self._bin[self.offsets[i] : self.offsets[i + 1]].tobytes()
