"""One similarity query: neighbours of an image (in the index or a file), refined by a selection,
with quick-select clusters over the top of the ranking."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from hubbleclip.errors import UserError
from hubbleclip.similarity.categories import build_restriction, load_table
from hubbleclip.similarity.encoders import load_image_encoder
from hubbleclip.similarity.index import SimilarityIndex
from hubbleclip.similarity.neighbours import only_visible
from hubbleclip.similarity.quickselect import Cluster, quick_select
from hubbleclip.similarity.refine import refine


@dataclass
class SimilarResult:
    query: str
    query_row: int | None  # index row of the query image (None for a file)
    selected: list[int]  # index rows combined with the query
    neighbours: list[tuple[int, float]]
    clusters: list[Cluster] = field(default_factory=list)
    query_image: Any = None  # the decoded query file (None for an index query)


def find_similar(
    index: SimilarityIndex,
    query: str,
    *,
    select: list[str] = (),
    k: int = 20,
    method: str = "mean",
    n_clusters: int = 5,
    n_members: int = 15,
    pool: int = 1000,
    restrict: bool = False,
    table: str | None = None,
    backend: str = "exact",
    seed: int = 0,
    visible: np.ndarray | None = None,
) -> SimilarResult:
    """``query`` is an index id/object name or an image file (embedded with the index's encoder).
    ``visible`` (a mask from :mod:`hubbleclip.access`; None = all) limits queries, selections,
    neighbours and clusters to the rows the caller may see."""
    if backend != "exact" and visible is not None and not visible.all():
        raise UserError("hiding rows that are not public needs the exact backend (--backend exact)")
    rows = [index.find(s, visible) for s in select]
    extra, query_row, query_image = None, None, None
    is_file = Path(query).is_file()
    if restrict and is_file:  # checked before paying for the encoder
        raise UserError("--restrict needs a query from the index (its class decides the compatible ones)")
    if is_file:
        query_image = Image.open(query).convert("RGB")
        extra = load_image_encoder(index.meta["encoder"]).embed([query_image])
    else:
        query_row = index.find(query, visible)
        rows = [query_row, *rows]
    restriction = group = None
    if restrict:
        restriction, groups = build_restriction(index.types(), load_table(table))
        group = groups[index.items[query_row]["type"]]
    restriction, group = only_visible(visible, restriction, group)
    emb = index.vectors()
    depth = max(k, pool if n_clusters else 0)
    vals, idx = refine(
        emb,
        rows,
        min(depth, len(emb)),
        method=method,
        extra=extra,
        backend=backend,
        query_group=group,
        restriction=restriction,
    )
    found = [(int(i), float(v)) for v, i in zip(vals, idx) if i >= 0]
    clusters = []
    if n_clusters and len(found) >= n_clusters:
        clusters = quick_select(
            emb, np.array([i for i, _ in found]), n_clusters=n_clusters, n_members=n_members, seed=seed
        )
    return SimilarResult(query, query_row, rows, found[:k], clusters, query_image)
