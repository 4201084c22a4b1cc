"""One similarity query on an index: images similar to an image (an id, an object name or a file)
and a selection (:mod:`hubbleclip.similarity.refine`), with quick-select clusters over the top of
the ranking."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from hubbleclip.errors import UserError
from hubbleclip.similarity.categories import build_restriction, load_table
from hubbleclip.similarity.index import SimilarityIndex
from hubbleclip.similarity.quickselect import Cluster, quick_select
from hubbleclip.similarity.refine import rank_similar
from hubbleclip.similarity.results import SimilarCluster, SimilarImage


@dataclass
class SimilarResult:
    query: str
    query_row: int | None  # index row of the query image (None for a file)
    selected: list[int]  # index rows combined with the query (the query's row first)
    neighbours: list[tuple[int, float]]
    clusters: list[Cluster] = field(default_factory=list)
    query_image: Any = None  # the decoded query file (None for an index query)

    def images(self, index: SimilarityIndex) -> list[SimilarImage]:
        return [SimilarImage.from_item(index.items[i], s) for i, s in self.neighbours]

    def typed_clusters(self, index: SimilarityIndex) -> list[SimilarCluster]:
        items = index.items
        return [
            SimilarCluster(
                SimilarImage.from_item(items[c.representative]), [items[m]["id"] for m in c.members], c.size
            )
            for c in self.clusters
        ]

    def to_dict(self, index: SimilarityIndex) -> dict[str, Any]:
        """The answer as ``hubbleclip similar --json`` prints it (``index``: the one searched)."""
        return {
            "query": self.query,
            "selected": [index.items[r]["id"] for r in self.selected],
            "neighbours": [im.to_dict() for im in self.images(index)],
            "clusters": [c.to_dict() for c in self.typed_clusters(index)],
        }


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
    """Images similar to the query and the selection together (:func:`rank_similar`).
    ``query`` is an index id, an object name as ``hubbleclip search`` reads it, or an image file
    (embedded with the index's encoder); ``select`` are ids or names.  ``visible`` (a mask from
    :mod:`hubbleclip.access`; None = all) limits queries, selections, neighbours and clusters to the
    rows the caller may see."""
    rows = [index.find(s, visible) for s in select]
    extra, query_row, query_image = None, None, None
    is_file = Path(query).is_file()
    if restrict and is_file:  # checked before paying for the encoder
        raise UserError("--restrict needs a query from the index (its class decides the compatible ones)")
    if is_file:
        query_image = Image.open(query).convert("RGB")
        extra = index.encoder().embed([query_image])
    else:
        query_row = index.find(query, visible)
        rows = [query_row, *rows]
    restriction = group = None
    if restrict:
        restriction, groups = build_restriction(index.types(), load_table(table))
        group = groups[index.items[query_row]["type"]]
    emb = index.vectors()
    found = rank_similar(
        emb,
        rows,
        max(k, pool if n_clusters else 0),
        method=method,
        extra=extra,
        backend=backend,
        visible=visible,
        query_group=group,
        restriction=restriction,
    )
    clusters = []
    if n_clusters and len(found) >= n_clusters:
        clusters = quick_select(
            emb, np.array([i for i, _ in found]), n_clusters=n_clusters, n_members=n_members, seed=seed
        )
    return SimilarResult(query, query_row, list(dict.fromkeys(rows)), found[:k], clusters, query_image)
