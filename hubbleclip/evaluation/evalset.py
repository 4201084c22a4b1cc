"""The image-text pairs of one dataset split, with captions de-duplicated and relevance resolved.

Only rows with an image take part (catalog-only rows have no partner).  Identical captions become
one retrieval candidate, and an image counts as a correct partner of its own caption and of every
caption written for the same object, so several images of one object (or one caption shared by a
class, as for FIRST) never count as mistakes.  ``type_relevance`` asks the class-level question a
caption can answer from the image: is the caption about an object of the image's type?
"""

from __future__ import annotations

from dataclasses import dataclass

import datasets
import numpy as np
import scipy.sparse as sp

from hubbleclip.data.load import caption_column, encoded_images, has_image
from hubbleclip.errors import UserError
from hubbleclip.metrics import relevance_from_keys

REQUIRED_COLUMNS = ("id", "source", "image", "object_id", "type")


@dataclass
class EvalSet:
    images: datasets.Dataset  # the split's rows that have an image
    split: str
    fingerprint: str  # of the whole split as saved (datasets' fingerprint)
    text_column: str
    sources: np.ndarray  # per image
    types: np.ndarray  # per image: normalised class label
    object_ids: np.ndarray  # per image
    texts: list[str]  # distinct captions
    image_text: np.ndarray  # per image: index of its own caption in ``texts``
    text_sources: np.ndarray  # per caption: source of its first image
    relevance: sp.csr_matrix  # [images, texts]: correct partners
    type_relevance: sp.csr_matrix  # [images, texts]: the caption is of an object of the image's type

    @property
    def n_images(self) -> int:
        return len(self.image_text)

    def encoded_images(self) -> list[dict]:
        """The images undecoded (what the feature cache takes)."""
        return encoded_images(self.images)


def build_eval_set(ds: datasets.Dataset, split: str, text_column: str = "auto") -> EvalSet:
    """Image-text pairs and their relevance for one split."""
    text_column = caption_column(ds.column_names, text_column, field="text_column")
    if text_column is None:
        raise UserError("text_column=text_chunks: evaluation needs a caption column")
    missing = [c for c in REQUIRED_COLUMNS if c not in ds.column_names]
    if missing:
        raise UserError(f"split {split!r} lacks column(s) {missing}; it has {ds.column_names}")
    images = ds.select(np.flatnonzero(has_image(ds)))
    if len(images) == 0:
        raise UserError(f"split {split!r} has no rows with an image: nothing to evaluate")
    meta = images.select_columns(["source", "object_id", "type", text_column]).to_dict()
    captions = meta[text_column]
    empty = [i for i, c in enumerate(captions) if not c or not c.strip()]
    if empty:
        raise UserError(f"split {split!r}: row {images[empty[0]]['id']!r} has an empty {text_column!r}")
    texts = list(dict.fromkeys(captions))
    index = {t: i for i, t in enumerate(texts)}
    image_text = np.array([index[c] for c in captions], dtype=np.int64)
    objects_of_text: list[set[str]] = [set() for _ in texts]
    types_of_text: list[set[str]] = [set() for _ in texts]
    for t, obj, kind in zip(image_text, meta["object_id"], meta["type"]):
        objects_of_text[t].add(obj)
        types_of_text[t].add(kind)
    sources = np.array(meta["source"], dtype=object)
    first_image = np.unique(image_text, return_index=True)[1]
    relevance = relevance_from_keys(
        [{("text", t), ("object", o)} for t, o in zip(image_text, meta["object_id"])],
        [{("text", t)} | {("object", o) for o in objs} for t, objs in enumerate(objects_of_text)],
    )
    return EvalSet(
        images=images,
        split=split,
        fingerprint=getattr(ds, "_fingerprint", "") or "",
        text_column=text_column,
        sources=sources,
        types=np.array(meta["type"], dtype=object),
        object_ids=np.array(meta["object_id"], dtype=object),
        texts=texts,
        image_text=image_text,
        text_sources=sources[first_image],
        relevance=relevance,
        type_relevance=relevance_from_keys([{k} for k in meta["type"]], types_of_text),
    )
