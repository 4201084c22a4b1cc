"""The image-text pairs of one dataset split, with captions de-duplicated and relevance resolved.

Only rows with an image take part (catalog-only rows have no partner).  Identical captions become
one retrieval candidate, and an image counts as a correct partner of its own caption and of every
caption written for the same object, so several images of one object (or one caption shared by a
class, as for FIRST) never count as mistakes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from hubbleclip.errors import UserError
from hubbleclip.metrics import relevance_from_keys

if TYPE_CHECKING:
    import datasets
    from PIL import Image

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

    @property
    def n_images(self) -> int:
        return len(self.image_text)

    def iter_images(self) -> Iterator[Image.Image]:
        for row in self.images.select_columns(["image"]):
            yield row["image"].convert("RGB")


def load_split(dataset: str | Path, split: str) -> datasets.Dataset:
    """One split of a DatasetDict saved with ``save_to_disk`` (clear errors for wrong paths)."""
    import datasets

    path = Path(dataset)
    if not path.exists():
        raise FileNotFoundError(
            f"dataset {path} not found (build one with `hubbleclip data build --out {path}`)"
        )
    try:
        loaded = datasets.load_from_disk(str(path))
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"{path} is not a dataset saved with save_to_disk ({exc})") from None
    if isinstance(loaded, datasets.Dataset):
        raise UserError(f"{path} holds a single Dataset; expected a DatasetDict with train/val/test splits")
    if split not in loaded:
        raise UserError(f"{path} has no split {split!r}; it has {sorted(loaded)}")
    return loaded[split]


def resolve_text_column(ds: datasets.Dataset, text_column: str) -> str:
    """``auto`` means what training uses by default: ``caption_llm`` where it exists, else ``caption``."""
    if text_column == "auto":
        return "caption_llm" if "caption_llm" in ds.column_names else "caption"
    return text_column


def build_eval_set(ds: datasets.Dataset, split: str, text_column: str = "auto") -> EvalSet:
    """Image-text pairs and their relevance for one split."""
    text_column = resolve_text_column(ds, text_column)
    missing = [c for c in (*REQUIRED_COLUMNS, text_column) if c not in ds.column_names]
    if missing:
        raise UserError(f"split {split!r} lacks column(s) {missing}; it has {ds.column_names}")
    has_image = np.asarray(ds.select_columns(["image"]).with_format("arrow")["image"].is_valid())
    images = ds.select(np.flatnonzero(has_image))
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
    for t, obj in zip(image_text, meta["object_id"]):
        objects_of_text[t].add(obj)
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
    )
