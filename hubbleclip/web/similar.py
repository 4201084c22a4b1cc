"""The image space behind the similarity view: one normalised vector per stored image.

Similar images (the query together with the selection, :mod:`hubbleclip.similarity.refine`) and
quick-select clusters are the similarity library's; this class only maps image ids and object names
(read as ``hubbleclip search`` reads them) to rows and pages the results.
Every call takes ``visible``, the caller's mask over the rows (:mod:`hubbleclip.access`): hidden
rows are neither queries, selections, neighbours nor cluster members, and are not counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hubbleclip.access.cache import MaskKeyedCache
from hubbleclip.access.policy import AccessTable
from hubbleclip.errors import UserError
from hubbleclip.search.names import NameResolver
from hubbleclip.similarity.index import load_index
from hubbleclip.similarity.quickselect import quick_select
from hubbleclip.similarity.refine import rank_similar


@dataclass
class Page:
    ids: list[str]
    scores: list[float]
    has_more: bool


class ImageSpace:
    def __init__(
        self,
        ids: list[str],
        embeddings: np.ndarray,
        description: str,
        access: AccessTable | None = None,
        names: list[list[str]] | None = None,
        label: str = "",
    ):
        """``description`` names the files, for the operator; ``label`` says the same without
        paths, for callers (``/api/info``); ``names``: the object ids and names of each row (None =
        look images up by id only); ``access``: the index's own table, which the web engine checks
        against the image store's (the store's decides)."""
        if len(ids) != len(embeddings):
            raise ValueError(f"{description}: {len(ids)} image ids but {len(embeddings)} vectors")
        self.ids = list(ids)
        every = NameResolver.from_aliases(names or [])
        self._names = every, MaskKeyedCache(every.restricted)
        self.embeddings = np.array(embeddings, np.float32)  # a writable in-memory copy of the memmap
        self.row_of = {image_id: i for i, image_id in enumerate(self.ids)}
        self.description = description
        self.label = label or "image vectors"
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
            [[item["object_id"], *(item.get("names") or [])] for item in index.items],
            f"similarity index {Path(path).name} ({Path(str(index.meta.get('encoder', '?'))).name})",
        )

    @classmethod
    def from_retrieval_index(cls, index) -> ImageSpace:
        """One vector per object with an image (its mean image embedding), shown by its first image."""
        rows = np.flatnonzero(index.has_image)
        corpus = index.corpus
        return cls(
            [corpus.image_ids[i][0] for i in rows],
            np.asarray(index.emb_image)[rows],
            f"object image vectors of the retrieval index {index.path} (one per object; pass a "
            "similarity index for every image)",
            index.access.subset(rows),
            [[corpus.object_id[i], *corpus.names[i], *corpus.identifiers[i]] for i in rows],
            "object image vectors of the retrieval index (one per object)",
        )

    def __len__(self) -> int:
        return len(self.ids)

    def contains(self, image_id: str, visible: np.ndarray | None = None) -> bool:
        row = self.row_of.get(image_id)
        return row is not None and (visible is None or bool(visible[row]))

    def resolve(self, key: str, visible: np.ndarray | None = None) -> str:
        """The image ``key`` names: itself when it is an image id, else the first image of the
        object it names (any spelling ``hubbleclip search`` resolves); unknown keys come back as
        they are (the caller answers them like any unknown id)."""
        if self.contains(key, visible):
            return key
        every, restricted = self._names
        names = every if visible is None or visible.all() else restricted.get(visible)
        match = names.resolve(key)
        return key if match is None else self.ids[min(match.rows)]

    def rows(self, image_ids: list[str], visible: np.ndarray | None = None) -> list[int]:
        """Rows of the given ids; KeyError naming the first unknown (or hidden) one."""
        missing = [i for i in image_ids if not self.contains(i, visible)]
        if missing:
            raise KeyError(f"image {missing[0]!r} is not in the similarity index")
        return [self.row_of[i] for i in image_ids]

    def similar(
        self, image_id: str, selected: list[str], offset: int, limit: int, visible: np.ndarray | None = None
    ) -> Page:
        """Images similar to ``image_id`` together with the ``selected`` ones
        (:func:`~hubbleclip.similarity.refine.rank_similar`); those never appear in the page."""
        (query,) = self.rows([image_id], visible)
        chosen = self.rows(selected, visible)
        # one extra tells whether there is a next page
        found = rank_similar(self.embeddings, [query, *chosen], offset + limit + 1, visible=visible)
        page = found[offset : offset + limit]
        return Page([self.ids[i] for i, _ in page], [s for _, s in page], len(found) > offset + limit)

    def clusters(
        self, image_id: str, n_clusters: int, n_members: int, pool: int, visible: np.ndarray | None = None
    ) -> list[tuple[str, list[str], int]]:
        """k-means over the image's ``pool`` nearest neighbours:
        (representative, its nearest members, size)."""
        (query,) = self.rows([image_id], visible)
        n = len(self) if visible is None else int(visible.sum())
        k = min(pool, n - 1)
        if k < n_clusters:
            raise UserError(f"only {k} other images: too few for {n_clusters} clusters")
        pooled = np.array([i for i, _ in rank_similar(self.embeddings, [query], k, visible=visible)])
        found = quick_select(self.embeddings, pooled, n_clusters=n_clusters, n_members=n_members)
        return [(self.ids[c.representative], [self.ids[m] for m in c.members], c.size) for c in found]
