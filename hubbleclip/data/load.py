"""Reading a saved dataset in the skyset's format: the DatasetDict, one split, the rows that have an
image, their encoded images, and which column holds the captions.

Every job reads datasets through these functions, so a wrong path, a missing split or a missing
column gives the same clear error everywhere.
"""

from __future__ import annotations

from pathlib import Path

import datasets
import numpy as np

from hubbleclip.errors import UserError

BUILD_HINT = "build one with `hubbleclip data build`"


def load_dataset_dict(
    path: str | Path, required_columns: tuple[str, ...] = (), hint: str = BUILD_HINT
) -> datasets.DatasetDict:
    """A DatasetDict saved with ``save_to_disk`` (a saved single Dataset becomes split ``all``), with a
    clear error when the path is not one or a split lacks one of ``required_columns``."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"{path}: not a saved dataset (not found; expected a folder with dataset_dict.json); {hint}"
        )
    if not (path / "dataset_dict.json").is_file() and not (path / "dataset_info.json").is_file():
        raise FileNotFoundError(f"{path}: not a saved dataset (no dataset_dict.json); {hint}")
    loaded = datasets.load_from_disk(str(path))
    dd = datasets.DatasetDict({"all": loaded}) if isinstance(loaded, datasets.Dataset) else loaded
    for split, ds in dd.items():
        missing = sorted(set(required_columns) - set(ds.column_names))
        if missing:
            raise UserError(f"{path} split {split}: missing column(s) {missing}")
    return dd


def load_split(path: str | Path, split: str) -> datasets.Dataset:
    """One split of a saved dataset (an error naming the splits there are)."""
    dd = load_dataset_dict(path)
    if split not in dd:
        raise UserError(f"{path} has no split {split!r}; it has {sorted(dd)}")
    return dd[split]


def has_image(ds: datasets.Dataset) -> np.ndarray:
    """Per row: does it have an image?  (Catalog-only rows have none.)  Decodes nothing."""
    return np.asarray(ds.select_columns(["image"]).with_format("arrow")["image"].is_valid())


def imaged_rows(ds: datasets.Dataset) -> np.ndarray:
    """Indices of the rows that have an image."""
    return np.flatnonzero(has_image(ds))


def encoded_images(ds: datasets.Dataset) -> list[dict | None]:
    """The image column undecoded: ``{"bytes", "path"}`` per row (None without an image).  Feature
    caches key on these bytes, so a cached image is never decoded."""
    return ds.select_columns(["image"]).cast_column("image", datasets.Image(decode=False))["image"]


def caption_column(columns: list[str], rule: str, field: str = "data.captions") -> str | None:
    """The column the captions come from under ``rule``: ``auto`` is ``caption_llm`` where that column
    exists, else ``caption``; ``text_chunks`` gives None (sentence runs of ``text``); any other rule
    names the column itself."""
    if rule == "text_chunks":
        return None
    column = ("caption_llm" if "caption_llm" in columns else "caption") if rule == "auto" else rule
    if column not in columns:
        raise UserError(
            f"{field}={rule}: the dataset has no {column!r} column (columns: {', '.join(columns)})"
        )
    return column
