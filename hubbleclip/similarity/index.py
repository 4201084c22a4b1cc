"""The similarity index: one L2-normalised vector per image of a dataset, stored on disk.

Layout of an index directory: ``embeddings.npy`` [N, D] (float32 or float16), ``items.json``
(id, object_id, names, type, source, split and row of each image in the dataset, and its
``credit``, ``release_date`` / ``program_id`` when the dataset has them), ``meta.json`` (format,
version, encoder name and weights digest, dataset path relative to the index, dimension, size and
sha256 of every other file, and ``neighbours``: the backend a neighbour build over these vectors
uses and the recall@k it reached), ``model/`` (the encoder, when built from a local directory) and
the image previews (:mod:`hubbleclip.indexes.previews`).  Every stored path is relative to the index,
so a copied index answers anywhere; an index without ``format`` in its meta.json (version 1: paths
of the build machine, images read from the dataset) still opens, with a warning.  Loading
memory-maps the vectors.
"""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import datasets
import numpy as np
from PIL import Image

from hubbleclip.access.cache import MaskKeyedCache
from hubbleclip.access.policy import AccessTable
from hubbleclip.config import save_config
from hubbleclip.data.load import load_dataset_dict
from hubbleclip.errors import UserError
from hubbleclip.indexes.files import shape_problem
from hubbleclip.indexes.model import load_checked, pack_model
from hubbleclip.indexes.previews import Previews, encoded_bytes, write_previews
from hubbleclip.indexes.travel import Travel, warn_not_relocatable
from hubbleclip.io import atomic_directory, atomic_write_json, read_json
from hubbleclip.models.feature_cache import decode_image, feature_cache
from hubbleclip.similarity.backend import NeighbourBuild, resolve_plan
from hubbleclip.similarity.config import NeighboursSection, SimilarityIndexConfig
from hubbleclip.similarity.encoders import ImageEncoder, load_image_encoder
from hubbleclip.similarity.neighbours import build_neighbours

log = logging.getLogger(__name__)

ITEM_FIELDS = ("id", "object_id", "names", "type", "source")
ACCESS_FIELDS = ("release_date", "program_id")  # optional: missing = public
OPTIONAL_FIELDS = ("credit", *ACCESS_FIELDS)
FORMAT = "hubbleclip-similarity-index"
VERSION = 2  # 1 (no "format" in meta.json): absolute paths, images read from the dataset
META_FILE = "meta.json"
REBUILD = "hubbleclip similarity index --overwrite"


class Names(Protocol):
    """Object names read as ``hubbleclip search`` reads them (a NameResolver)."""

    def resolve(self, text: str) -> Any: ...  # None, or a match whose ``rows`` the text names

    def restricted(self, visible: np.ndarray) -> Names: ...


@dataclass
class SimilarityIndex:
    path: Path | None
    embeddings: np.ndarray  # [N, D], L2-normalised
    items: list[dict]  # one record per row (ITEM_FIELDS + split, row)
    meta: dict
    _dataset: object = field(default=None, repr=False)
    _access: object = field(default=None, repr=False)
    _names: object = field(default=None, repr=False)
    travel: Travel | None = None  # None: a version 1 index (reads the dataset, loads the spec)
    _previews: object = field(default=None, repr=False)

    def image(self, row: int):
        """The RGB PIL image of an index row: its preview (a version 1 index reads the dataset)."""
        item = self.items[row]
        if self.travel is not None:
            if self._previews is None:
                self._previews = Previews(self.path)
            return Image.open(io.BytesIO(self._previews.data(item["id"]))).convert("RGB")
        if self._dataset is None:
            self._dataset = load_dataset_dict(self.meta["dataset"])
        return self._dataset[item["split"]][item["row"]]["image"].convert("RGB")

    def encoder(self, device: str = "cpu", model: str | None = None) -> ImageEncoder:
        """The index's image encoder, or ``model`` (checked against the index's weights digest)."""
        if self.travel is None:
            return load_image_encoder(model or self.meta["encoder"], device)
        _, encoder = load_checked(
            self.travel.model, self.path, lambda spec: load_image_encoder(spec, device), model
        )
        return encoder

    def vectors(self) -> np.ndarray:
        """The embeddings as float32 (float16 indexes are converted on access)."""
        e = self.embeddings
        return e if e.dtype == np.float32 else np.asarray(e, np.float32)

    @property
    def access(self):
        """The rows' :class:`hubbleclip.access.policy.AccessTable`."""
        if self._access is None:
            dates = [item.get("release_date") for item in self.items]
            self._access = AccessTable.from_rows(dates, [item.get("program_id") for item in self.items])
        return self._access

    def aliases(self) -> list[list[str]]:
        """The object id and names of each row."""
        return [[it["object_id"], *(it.get("names") or [])] for it in self.items]

    def read_names(self, build: Callable[[list[list[str]]], Names]) -> SimilarityIndex:
        """Let :meth:`find` read object names through ``build(self.aliases())``; returns the index.
        Callers pass ``hubbleclip.search.names.NameResolver.from_aliases`` (similarity sits beside
        search, so the resolver comes from above)."""
        every = build(self.aliases())
        self._names = every, MaskKeyedCache(every.restricted)
        return self

    def find(self, key: str, visible: np.ndarray | None = None) -> int:
        """Row of an image by id, else of the first image of the object ``key`` names: its object id,
        or with :meth:`read_names` any spelling ``hubbleclip search`` resolves (``M57``, ``Messier
        57``, ``NGC 06720``, ``Ring Nebula``, small typos).  Only ``visible`` rows count (None =
        all): a hidden row is as absent as an unknown one."""
        rows = range(len(self.items)) if visible is None else np.flatnonzero(visible).tolist()
        for field_name in ("id", "object_id"):
            for i in rows:
                if self.items[i][field_name] == key:
                    return i
        if self._names is not None:
            every, restricted = self._names
            match = (every if visible is None or visible.all() else restricted.get(visible)).resolve(key)
            if match is not None:
                return min(match.rows)
        example = self.items[rows[0]]["id"] if len(rows) else "-"
        raise KeyError(
            f"no image with id, object id or name {key!r} in the index "
            f"{self.path or ''} ({len(rows)} images; e.g. {example})"
        )

    def types(self) -> list[str]:
        return [item["type"] for item in self.items]

    def neighbour_build(self) -> NeighbourBuild | None:
        """The backend and recall@k recorded at build time (None for an index built before them)."""
        record = self.meta.get("neighbours")
        return NeighbourBuild.from_dict(record) if record else None


def plan_neighbours(emb: np.ndarray, cfg: NeighboursSection) -> NeighbourBuild:
    """The neighbour backend for these vectors under ``cfg``, built once to measure its recall@k
    (exact: 1.0 by construction), and logged."""
    n = emb.shape[0]
    plan = resolve_plan(cfg.backend, cfg.faiss_factory, n, emb.shape[1], cfg.memory_gb, cfg.exact_max)
    _, build = build_neighbours(
        emb,
        max(1, min(cfg.k, n - 1)),
        plan,
        target_recall=cfg.target_recall,
        recall_queries=cfg.recall_queries,
        seed=cfg.seed,
    )
    log.info(build.describe())
    return build


def image_rows(dataset_path: str | Path, splits: list[str] | None = None, sources: list[str] | None = None):
    """(split datasets with undecoded images, items) for every row that has an image."""
    dd = load_dataset_dict(dataset_path)
    splits = splits or list(dd)
    missing = [s for s in splits if s not in dd]
    if missing:
        raise UserError(f"{dataset_path}: no split(s) {missing}; available: {list(dd)}")
    out, items = {}, []
    for split in splits:
        ds = dd[split].cast_column("image", datasets.Image(decode=False))
        out[split] = ds
        fields = [*ITEM_FIELDS, *(f for f in OPTIONAL_FIELDS if f in ds.column_names)]
        cols = ds.select_columns(["image", *fields])
        for row, rec in enumerate(cols):
            if rec["image"] is None or (sources and rec["source"] not in sources):
                continue
            item = {f: rec[f] for f in ITEM_FIELDS}
            if rec.get("credit"):
                item["credit"] = rec["credit"]
            if rec.get("release_date") is not None:
                item["release_date"] = rec["release_date"].isoformat()
            if rec.get("program_id") is not None:
                item["program_id"] = rec["program_id"]
            items.append({**item, "split": split, "row": row})
    return out, items


def load_image(split_ds, row: int):
    """Decode one image of a dataset loaded by :func:`image_rows` as RGB PIL."""
    return decode_image(split_ds[row]["image"]).convert("RGB")


def build_similarity_index(cfg: SimilarityIndexConfig, overwrite: bool = False) -> SimilarityIndex:
    """Embed every image of the dataset with the encoder and write the index directory (+ its config)."""
    splits, sources = cfg.splits or None, cfg.sources or None
    data, items = image_rows(cfg.dataset, splits, sources)
    if not items:
        raise UserError(f"{cfg.dataset}: no images in splits {splits or 'all'} (sources {sources or 'all'})")
    encoder = load_image_encoder(cfg.encoder)
    emb = encoder.embed(
        [data[it["split"]][it["row"]]["image"] for it in items], feature_cache(cfg.cache_dir), cfg.batch_size
    )
    if not np.isfinite(emb).all():
        raise UserError(f"encoder {cfg.encoder} produced non-finite vectors")
    log.info("indexed %d images with %s", len(items), cfg.encoder)
    neighbours = plan_neighbours(emb, cfg.neighbours)
    with atomic_directory(cfg.out, overwrite=overwrite) as tmp:
        np.save(tmp / "embeddings.npy", emb.astype(cfg.dtype))
        atomic_write_json(tmp / "items.json", items, indent=0)
        save_config(cfg, tmp / "config.yaml")
        cells = (encoded_bytes(data[it["split"]][it["row"]]["image"]) for it in items)
        n_previews = write_previews(tmp, items, cells)
        model = pack_model(encoder.spec, encoder.model, tmp)
        meta = {
            "format": FORMAT,
            "version": VERSION,
            "encoder": model.name,
            # where the dataset was, seen from the index (only a rebuild needs it)
            "dataset": os.path.relpath(Path(cfg.dataset).resolve(), Path(cfg.out).resolve()),
            "dim": int(emb.shape[1]),
            "count": len(items),
            "dtype": cfg.dtype,
            "splits": splits,
            "sources": sources,
            "neighbours": neighbours.to_dict(),
            **Travel.record(tmp, model, n_previews, META_FILE).to_dict(),
        }
        atomic_write_json(tmp / META_FILE, meta)
    return load_index(cfg.out)


def read_meta(path: Path) -> dict:
    """The index's meta.json, checked: a version 1 index (no ``format``) comes with a warning."""
    file = path / META_FILE
    if not file.is_file():
        raise FileNotFoundError(
            f"{path} is not a similarity index (missing {META_FILE}; build one with "
            "`hubbleclip similarity index`)"
        )
    meta = read_json(file)
    if not isinstance(meta, dict) or meta.get("format", FORMAT) != FORMAT:
        raise UserError(f'{file}: expected "format": "{FORMAT}"')
    if "format" not in meta:
        warn_not_relocatable(path, REBUILD)
    elif meta.get("version") != VERSION:
        raise UserError(
            f"{file}: similarity index version {meta.get('version')!r}, this hubbleclip reads version "
            f"{VERSION}; rebuild it with `{REBUILD}`"
        )
    return meta


def check_index(path: Path, model: str = "") -> list[str]:
    """Everything ``hubbleclip index check`` finds wrong with a similarity index, one line each:
    version, files (size and sha256), the vectors' shape, previews, and the encoder's digest (the
    index's own, or ``model``)."""
    meta = read_meta(path)
    if "format" not in meta:
        return [
            f"{path}: a version 1 similarity index records paths of the machine that built it and is "
            f"not checked; rebuild it with `{REBUILD}` to make it relocatable"
        ]
    found = Travel.from_dict(meta).problems(path, deep=True, load=load_image_encoder, model=model)
    file = path / "embeddings.npy"
    if not any(str(file) in p for p in found) and (
        problem := shape_problem(file, [meta["count"], meta["dim"]])
    ):
        found.append(problem)
    return found


def load_index(path: str | Path) -> SimilarityIndex:
    path = Path(path)
    meta = read_meta(path)
    travel = Travel.from_dict(meta) if "format" in meta else None
    if travel is not None:
        travel.require(path)
    for name in ("embeddings.npy", "items.json"):
        if not (path / name).is_file():
            raise FileNotFoundError(
                f"{path} is not a similarity index (missing {name}; build one with "
                "`hubbleclip similarity index`)"
            )
    emb = np.load(path / "embeddings.npy", mmap_mode="r")
    items = json.loads((path / "items.json").read_text())
    if len(items) != emb.shape[0]:
        raise UserError(f"{path}: {emb.shape[0]} vectors but {len(items)} items")
    return SimilarityIndex(path, emb, items, meta, travel=travel)
