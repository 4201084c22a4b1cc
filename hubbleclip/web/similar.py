"""The image space behind the similarity view: one normalised vector per stored image.

Neighbours, refinement by a selection and quick-select clusters are the similarity library's
(:mod:`hubbleclip.similarity`); this class only maps image ids to rows and pages the results.
Every call takes ``visible``, the caller's mask over the rows (:mod:`hubbleclip.access`): hidden
rows are neither queries, selections, neighbours nor cluster members, and are not counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hubbleclip.access.policy import AccessTable
from hubbleclip.errors import UserError
from hubbleclip.similarity.index import load_index
from hubbleclip.similarity.neighbours import only_visible, topk
from hubbleclip.similarity.quickselect import quick_select
from hubbleclip.similarity.refine import refine


@dataclass
class Page:
    ids: list[str]
    scores: list[float]
    has_more: bool


class ImageSpace:
    def __init__(
        self, ids: list[str], embeddings: np.ndarray, description: str, access: AccessTable | None = None
    ):
        if len(ids) != len(embeddings):
            raise ValueError(f"{description}: {len(ids)} image ids but {len(embeddings)} vectors")
        self.ids = list(ids)
        self.embeddings = np.array(embeddings, np.float32)  # a writable in-memory copy of the memmap
        self.row_of = {image_id: i for i, image_id in enumerate(self.ids)}
        self.description = description
        self.access = access or AccessTable.public(len(self.ids))

    @classmethod
    def from_similarity_index(cls, path: str | Path) -> ImageSpace:
        """Per-image vectors from an index written by ``hubbleclip similarity index``."""
        index = load_index(path)
        return cls(
            [item["id"] for item in index.items],
            index.vectors(),
            f"similarity index {path} ({index.meta.get('encoder', '?')})",
            index.access,
        )

    @classmethod
    def from_retrieval_index(cls, index) -> ImageSpace:
        """One vector per object with an image (its mean image embedding), shown by its first image."""
        rows = np.flatnonzero(index.has_image)
        return cls(
            [index.corpus.image_ids[i][0] for i in rows],
            np.asarray(index.emb_image)[rows],
            f"object image vectors of the retrieval index {index.path} (one per object; pass a "
            "similarity index for every image)",
            index.access.subset(rows),
        )

    def __len__(self) -> int:
        return len(self.ids)

    def contains(self, image_id: str, visible: np.ndarray | None = None) -> bool:
        row = self.row_of.get(image_id)
        return row is not None and (visible is None or bool(visible[row]))

    def rows(self, image_ids: list[str], visible: np.ndarray | None = None) -> list[int]:
        """Rows of the given ids; KeyError naming the first unknown (or hidden) one."""
        missing = [i for i in image_ids if not self.contains(i, visible)]
        if missing:
            raise KeyError(f"image {missing[0]!r} is not in the similarity index")
        return [self.row_of[i] for i in image_ids]

    def similar(
        self, image_id: str, selected: list[str], offset: int, limit: int, visible: np.ndarray | None = None
    ) -> Page:
        """Neighbours of ``image_id``, or with a selection the rest ranked by the combination of the
        selected images; the query image and the selection never appear in the page."""
        (query,) = self.rows([image_id], visible)
        chosen = self.rows(selected, visible)
        restriction, group = only_visible(visible)
        groups = None if group is None else np.array([group])
        n = len(self) if visible is None else int(visible.sum())
        k = min(offset + limit + 1, n)  # one extra tells whether there is a next page
        if chosen:
            exclude = sorted(set(chosen) | {query})
            # refine() leaves out the selection; ask for one more in case the query image comes back
            vals, idx = refine(
                self.embeddings, chosen, min(k + 1, n), query_group=group, restriction=restriction
            )
            keep = [(v, i) for v, i in zip(vals.tolist(), idx.tolist()) if i >= 0 and i not in exclude][:k]
        else:
            vals, idx = topk(
                self.embeddings[query][None],
                self.embeddings,
                k,
                exclude=np.array([[query]]),
                query_groups=groups,
                restriction=restriction,
            )
            keep = [(v, i) for v, i in zip(vals[0].tolist(), idx[0].tolist()) if i >= 0]
        page = keep[offset : offset + limit]
        return Page([self.ids[i] for _, i in page], [float(v) for v, _ in page], len(keep) > offset + limit)

    def clusters(
        self, image_id: str, n_clusters: int, n_members: int, pool: int, visible: np.ndarray | None = None
    ) -> list[tuple[str, list[str], int]]:
        """k-means over the image's ``pool`` nearest neighbours:
        (representative, its nearest members, size)."""
        (query,) = self.rows([image_id], visible)
        restriction, group = only_visible(visible)
        n = len(self) if visible is None else int(visible.sum())
        k = min(pool, n - 1)
        if k < n_clusters:
            raise UserError(f"only {k} other images: too few for {n_clusters} clusters")
        _, idx = topk(
            self.embeddings[query][None],
            self.embeddings,
            k,
            exclude=np.array([[query]]),
            query_groups=None if group is None else np.array([group]),
            restriction=restriction,
        )
        found = quick_select(self.embeddings, idx[0], n_clusters=n_clusters, n_members=n_members)
        return [(self.ids[c.representative], [self.ids[m] for m in c.members], c.size) for c in found]
