"""The image store the page may show: exactly the images of the retrieval index, by image id.

The images come from the index's previews (:class:`hubbleclip.indexes.previews.Previews`: the index
carries them, so it serves wherever it is copied) or, for an index of the old format, from the
dataset it was built from (:class:`DatasetImages`).  Images are looked up by id in a table built
from the index, never by a path from the request, so nothing outside the index can be served.
Thumbnails are made once and kept in memory.  ``access`` (one row per stored image, in ``ids``
order) says when each image becomes public.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Protocol

import datasets
import numpy as np
from PIL import Image

from hubbleclip.access.policy import AccessTable
from hubbleclip.data.load import load_dataset_dict
from hubbleclip.errors import UserError
from hubbleclip.indexes.previews import META, encoded_bytes

THUMB_FORMAT = ("WEBP", "image/webp")


class ImageSource(Protocol):
    """Where the stored images' bytes and metadata come from."""

    def meta(self, image_id: str) -> dict: ...  # the META fields of a stored image

    def data(self, image_id: str) -> bytes: ...  # its encoded bytes


class DatasetImages:
    """The images of an old-format index, read from the dataset it was built from."""

    def __init__(self, dataset_path: str | Path, locations: dict[str, tuple[str, int]]):
        """``locations``: image id -> (split, row) in the saved ``DatasetDict`` at ``dataset_path``."""
        path = Path(dataset_path)
        dd = load_dataset_dict(
            path, hint="the index points to it: rebuild the index or pass the dataset it was built from"
        )
        used = {split for split, _ in locations.values()}
        missing = used - set(dd)
        if missing:
            raise UserError(
                f"image store: dataset {path} has no split(s) {sorted(missing)} named by the index"
            )
        raw = {s: dd[s].cast_column("image", datasets.Image(decode=False)) for s in used}
        self._images = {s: ds.select_columns(["image"]) for s, ds in raw.items()}
        self._meta = {s: ds.select_columns(list(META)) for s, ds in raw.items()}
        self.locations = dict(locations)

    def meta(self, image_id: str) -> dict:
        split, row = self.locations[image_id]
        rec = self._meta[split][row]
        if rec["id"] != image_id:
            raise UserError(
                f"image store out of date: row {split}:{row} holds {rec['id']!r}, not {image_id!r} "
                "(rebuild the index from the current dataset)"
            )
        return rec

    def data(self, image_id: str) -> bytes:
        split, row = self.locations[image_id]
        return encoded_bytes(self._images[split][row]["image"])


class ImageStore:
    def __init__(
        self,
        source: ImageSource,
        ids: list[str],
        thumb_size: int = 256,
        cache_items: int = 4096,
        access: AccessTable | None = None,
    ):
        """``ids``: the stored images (``source`` has them all); ``access``: their access table in
        ``ids`` order (None = all public)."""
        self.source = source
        self.ids = list(ids)
        self.position = {image_id: i for i, image_id in enumerate(self.ids)}
        self.access = access or AccessTable.public(len(self.ids))
        if len(self.access) != len(self.ids):
            raise ValueError(f"image store: {len(self.ids)} images but {len(self.access)} access rows")
        self.thumb_size = thumb_size
        self._cache: OrderedDict[tuple[str, int], bytes] = OrderedDict()
        self._cache_items = cache_items
        self._lock = threading.Lock()

    def __contains__(self, image_id: str) -> bool:
        return image_id in self.position

    def __len__(self) -> int:
        return len(self.ids)

    def visible(self, image_id: str, mask: np.ndarray) -> bool:
        """Whether ``image_id`` is stored and ``mask`` (over ``ids``) lets the caller see it."""
        pos = self.position.get(image_id)
        return pos is not None and bool(mask[pos])

    def meta(self, image_id: str) -> dict:
        """id, object_id, names, type, source and credit of a stored image (KeyError if not stored)."""
        if image_id not in self.position:
            raise KeyError(image_id)
        return self.source.meta(image_id)

    def original(self, image_id: str) -> tuple[bytes, str]:
        """(bytes, media type) of the stored image (the index's preview); KeyError for an id not
        in the store."""
        if image_id not in self.position:
            raise KeyError(image_id)
        data = self.source.data(image_id)
        fmt = Image.open(io.BytesIO(data)).format or "PNG"
        return data, Image.MIME.get(fmt, "application/octet-stream")

    def thumbnail(self, image_id: str, size: int | None = None) -> tuple[bytes, str]:
        size = size or self.thumb_size
        key = (image_id, size)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key], THUMB_FORMAT[1]
        data, _ = self.original(image_id)
        image = Image.open(io.BytesIO(data)).convert("RGB")
        image.thumbnail((size, size))
        out = io.BytesIO()
        image.save(out, THUMB_FORMAT[0], quality=85)
        thumb = out.getvalue()
        with self._lock:
            self._cache[key] = thumb
            while len(self._cache) > self._cache_items:
                self._cache.popitem(last=False)
        return thumb, THUMB_FORMAT[1]
