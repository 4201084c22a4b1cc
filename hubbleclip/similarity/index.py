"""The similarity index: one L2-normalised vector per image of a dataset, stored on disk.

Layout of an index directory: ``embeddings.npy`` [N, D] (float32 or float16), ``items.json``
(id, object_id, names, type, source, split and row of each image in the dataset) and
``meta.json`` (encoder spec, dataset path, dimension).  Loading memory-maps the vectors.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hubbleclip.errors import UserError
from hubbleclip.io import atomic_directory, atomic_write_json

log = logging.getLogger(__name__)

ITEM_FIELDS = ("id", "object_id", "names", "type", "source")


@dataclass
class IndexConfig:
    dataset: str = field(default="data/skyset", metadata={"help": "saved dataset whose images are indexed"})
    encoder: str = field(
        default="lit-mini",
        metadata={
            "help": (
                "encoder: a model spec (lit-mini, open_clip:..., RUN_DIR/export), "
                "imagenet, features:SPEC, simclr:RUN_DIR"
            )
        },
    )
    out: str = field(default="runs/similarity/index", metadata={"help": "index directory to write"})
    splits: list[str] = field(default_factory=list, metadata={"help": "splits to index (empty = all)"})
    sources: list[str] = field(default_factory=list, metadata={"help": "only these sources (empty = all)"})
    dtype: str = field(default="float32", metadata={"help": "stored vector type: float32 or float16"})
    batch_size: int = field(default=64, metadata={"help": "images per encoder batch"})


@dataclass
class SimilarityIndex:
    path: Path | None
    embeddings: np.ndarray  # [N, D], L2-normalised
    items: list[dict]  # one record per row (ITEM_FIELDS + split, row)
    meta: dict
    _dataset: object = field(default=None, repr=False)

    def image(self, row: int):
        """The RGB PIL image of an index row, read from the indexed dataset."""
        import datasets

        if self._dataset is None:
            self._dataset = datasets.load_from_disk(self.meta["dataset"])
        item = self.items[row]
        ds = (
            self._dataset[item["split"]] if isinstance(self._dataset, datasets.DatasetDict) else self._dataset
        )
        return ds[item["row"]]["image"].convert("RGB")

    def vectors(self) -> np.ndarray:
        """The embeddings as float32 (float16 indexes are converted on access)."""
        e = self.embeddings
        return e if e.dtype == np.float32 else np.asarray(e, np.float32)

    def find(self, key: str) -> int:
        """Row of an image by id, then by object id or name (case-insensitive; first image wins)."""
        for i, item in enumerate(self.items):
            if item["id"] == key:
                return i
        low = key.lower().replace(" ", "")
        for i, item in enumerate(self.items):
            names = [item["object_id"], *item.get("names", [])]
            if any(n and n.lower().replace(" ", "") == low for n in names):
                return i
        raise KeyError(
            f"no image with id, object id or name {key!r} in the index "
            f"{self.path or ''} ({len(self.items)} images; e.g. {self.items[0]['id'] if self.items else '-'})"
        )

    def types(self) -> list[str]:
        return [item["type"] for item in self.items]


def image_rows(dataset_path: str | Path, splits: list[str] | None = None, sources: list[str] | None = None):
    """(split dataset with undecoded images, items) for every row that has an image."""
    import datasets

    path = Path(dataset_path)
    if not path.exists():
        raise FileNotFoundError(f"dataset {path} does not exist (build it with `hubbleclip data build`)")
    dd = datasets.load_from_disk(str(path))
    if isinstance(dd, datasets.Dataset):
        dd = datasets.DatasetDict({"all": dd})
    splits = splits or list(dd)
    missing = [s for s in splits if s not in dd]
    if missing:
        raise UserError(f"{path}: no split(s) {missing}; available: {list(dd)}")
    out, items = {}, []
    for split in splits:
        ds = dd[split].cast_column("image", datasets.Image(decode=False))
        out[split] = ds
        cols = ds.select_columns(["image", *ITEM_FIELDS])
        for row, rec in enumerate(cols):
            if rec["image"] is None or (sources and rec["source"] not in sources):
                continue
            items.append({**{f: rec[f] for f in ITEM_FIELDS}, "split": split, "row": row})
    return out, items


def load_image(split_ds, row: int):
    """Decode one image of a dataset loaded by :func:`image_rows` as RGB PIL."""
    import datasets

    return datasets.Image().decode_example(split_ds[row]["image"]).convert("RGB")


def build_index(
    dataset_path: str | Path,
    encoder_spec: str,
    out_dir: str | Path,
    *,
    splits: list[str] | None = None,
    sources: list[str] | None = None,
    dtype: str = "float32",
    batch_size: int = 64,
    overwrite: bool = False,
) -> SimilarityIndex:
    """Embed every image of the dataset with the encoder and write the index directory."""
    from hubbleclip.similarity.encoders import load_encoder

    if dtype not in ("float32", "float16"):
        raise UserError(f"index dtype must be float32 or float16, got {dtype!r}")
    data, items = image_rows(dataset_path, splits, sources)
    if not items:
        raise UserError(f"{dataset_path}: no images in splits {splits or 'all'} (sources {sources or 'all'})")
    encoder = load_encoder(encoder_spec)
    chunks = []
    for start in range(0, len(items), batch_size):
        batch = items[start : start + batch_size]
        chunks.append(encoder.embed([load_image(data[it["split"]], it["row"]) for it in batch], batch_size))
        log.info("embedded %d/%d images", start + len(batch), len(items))
    emb = np.concatenate(chunks).astype(np.float32)
    if not np.isfinite(emb).all():
        raise UserError(f"encoder {encoder_spec} produced non-finite vectors")
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    meta = {
        "encoder": encoder_spec,
        "dataset": str(Path(dataset_path).resolve()),
        "dim": int(emb.shape[1]),
        "count": len(items),
        "dtype": dtype,
        "splits": splits,
        "sources": sources,
    }
    with atomic_directory(out_dir, overwrite=overwrite) as tmp:
        np.save(tmp / "embeddings.npy", emb.astype(dtype))
        atomic_write_json(tmp / "items.json", items, indent=0)
        atomic_write_json(tmp / "meta.json", meta)
    return load_index(out_dir)


def load_index(path: str | Path) -> SimilarityIndex:
    path = Path(path)
    for name in ("embeddings.npy", "items.json", "meta.json"):
        if not (path / name).is_file():
            raise FileNotFoundError(
                f"{path} is not a similarity index (missing {name}; build one with "
                "`hubbleclip similarity index`)"
            )
    emb = np.load(path / "embeddings.npy", mmap_mode="r")
    items = json.loads((path / "items.json").read_text())
    if len(items) != emb.shape[0]:
        raise UserError(f"{path}: {emb.shape[0]} vectors but {len(items)} items")
    return SimilarityIndex(path, emb, items, json.loads((path / "meta.json").read_text()))
