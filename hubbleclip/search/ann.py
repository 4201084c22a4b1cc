"""Dense candidates: the objects whose CLIP embedding is nearest a query's, never the whole corpus
at archive scale.

An index of fewer than ``AnnBuildConfig.min_objects`` objects has no faiss files, and its search is
exact (one matrix-vector product over the allowed rows), as the demo has always done.  A larger
index is built with one faiss IVF-Flat index per embedding: object texts (every object) and object
images (only the objects that have one); their ids are corpus rows.  The files sit next to the
arrays, are listed in the manifest with their sha256 like every file, and are memory-mapped on load.

Access: a row outside ``valid`` (the caller's visible mask and any resolver filter) is never
returned.  IVF search filters inside faiss with an ``IDSelectorBitmap``, so such a row is never even
scored, and the answer is checked against ``valid`` again.  When few rows are allowed (a cone, a
release day that hides most of an archive) they are scored exactly instead: IVF visits only
``nprobe`` lists, which may hold none of them.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

KINDS = ("text", "image")
TRAIN_PER_LIST = 64  # k-means sample per IVF list (faiss itself uses at most 256)
ADD_CHUNK = 65_536  # rows copied out of the memory map per add, to bound memory


def ann_file(kind: str) -> str:
    return f"ann_{kind}.faiss"


def default_nlist(n: int) -> int:
    """4·sqrt(n) lists (4,000 at a million), with at least 39 training points per list."""
    return max(1, min(4 * round(math.sqrt(n)), n // 39))


def build_ivf(vectors: np.ndarray, rows: np.ndarray, nlist: int = 0, seed: int = 0):
    """A faiss IVF-Flat inner-product index over ``vectors[rows]``, its ids the ``rows``."""
    import faiss

    d = vectors.shape[1]
    nlist = nlist or default_nlist(len(rows))
    index = faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, nlist, faiss.METRIC_INNER_PRODUCT)
    rng = np.random.default_rng(seed)
    size = min(len(rows), TRAIN_PER_LIST * nlist)
    sample = np.sort(rng.choice(rows, size, replace=False)) if size < len(rows) else rows
    index.train(np.ascontiguousarray(vectors[sample], np.float32))
    for start in range(0, len(rows), ADD_CHUNK):
        chunk = rows[start : start + ADD_CHUNK]
        index.add_with_ids(np.ascontiguousarray(vectors[chunk], np.float32), chunk.astype(np.int64))
    return index


def write_ivf(index, path: Path) -> None:
    import faiss

    faiss.write_index(index, str(path))


def read_ivf(path: Path):
    """The IVF index at ``path``, its inverted lists memory-mapped (not read into memory)."""
    import faiss

    return faiss.read_index(str(path), faiss.IO_FLAG_MMAP)


def top_n(scores: np.ndarray, n: int, valid: np.ndarray | None = None) -> np.ndarray:
    """Indices of the ``n`` highest scores (only where ``valid``), unordered."""
    idx = np.flatnonzero(valid) if valid is not None else np.arange(len(scores))
    if len(idx) <= n:
        return idx
    part = np.argpartition(-scores[idx], n - 1)[:n]
    return idx[part]


class DenseNeighbours:
    """Nearest rows of one embedding matrix (``members``: the rows that have a vector)."""

    def __init__(
        self, vectors: np.ndarray, members: np.ndarray, ivf=None, nprobe: int = 128, exact_below: int = 10_000
    ):
        self.vectors, self.members, self.ivf = vectors, members, ivf
        self.nprobe, self.exact_below = nprobe, exact_below

    @property
    def approximate(self) -> bool:
        return self.ivf is not None

    def search(self, q: np.ndarray, n: int, valid: np.ndarray | None = None) -> np.ndarray:
        """Up to ``n`` member rows inside ``valid`` (None: all) nearest ``q``, unordered."""
        allowed = self.members if valid is None else self.members & valid
        if self.ivf is None:
            return top_n(self.vectors @ q, n, allowed)
        if valid is not None:
            rows = np.flatnonzero(allowed)
            if len(rows) <= max(self.exact_below, n):
                return rows[top_n(self.vectors[rows] @ q, n)]
        return self._ivf_search(q, n, allowed if valid is not None else None)

    def _ivf_search(self, q: np.ndarray, n: int, allowed: np.ndarray | None) -> np.ndarray:
        import faiss

        params = faiss.SearchParametersIVF(nprobe=self.nprobe)
        if allowed is not None:
            bits = np.packbits(allowed, bitorder="little")  # faiss reads bit (id & 7) of byte id >> 3
            selector = faiss.IDSelectorBitmap(len(bits), faiss.swig_ptr(bits))
            params.sel = selector  # ``bits`` and ``selector`` stay referenced until the search returns
        _, ids = self.ivf.search(np.asarray(q, np.float32)[None], n, params=params)
        rows = ids[0][ids[0] >= 0]
        return rows[allowed[rows]] if allowed is not None else rows
