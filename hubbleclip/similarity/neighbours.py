"""Exact cosine top-k by blocked matrix products, faiss indexes, and all-pairs top-k streamed to disk.

Vectors are expected L2-normalised, so the inner product is the cosine similarity.  Exact results
are ordered by decreasing score, ties by increasing database index, so they are deterministic and
equal to a brute-force sort of the full similarity matrix.  Excluded or masked entries get score
``-inf`` and index ``-1`` when fewer than ``k`` candidates remain.  An all-pairs build picks its
backend from :mod:`hubbleclip.similarity.backend` and records recall@k against exact search.
"""

from __future__ import annotations

import json
import logging
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hubbleclip.errors import UserError
from hubbleclip.io import atomic_directory, atomic_write_json
from hubbleclip.similarity.backend import (
    DEFAULTS,
    NeighbourBuild,
    NeighbourPlan,
    recall_at_k,
    resolve_plan,
    sample_queries,
)

log = logging.getLogger(__name__)

DEFAULT_BLOCK_BYTES = 256 * 2**20  # one score block (rows x columns, float32)
DEFAULT_DB_BYTES = 2 * 2**30  # database held in memory as float32 up to this size
ADD_ROWS = 65_536  # rows converted to float32 at a time when filling a faiss index from a memory map
TRAIN_PER_LIST = 40  # k-means training points per inverted list (faiss warns below 39)
MIN_TRAIN = 10_000  # product quantisers train 256 centroids per sub-vector


@dataclass
class Restriction:
    """Category restriction: query ``q`` may match database column ``j`` only if
    ``allowed[q_group[q], column_groups[j]]``."""

    column_groups: np.ndarray  # [N] int group id of each database row
    allowed: np.ndarray  # [G, G] bool compatibility table


def only_visible(
    visible: np.ndarray | None, restriction: Restriction | None = None, query_group: int | None = None
) -> tuple[Restriction | None, int | None]:
    """A restriction (and the query's group) that also masks the database rows ``visible`` is
    False for (rows a caller may not see; :mod:`hubbleclip.access`).  Masked rows score ``-inf``
    inside the blocked products, so they never take a place in any top-k."""
    if visible is None or visible.all():
        return restriction, query_group
    seen = np.asarray(visible, np.int64)
    if restriction is None:
        return Restriction(seen, np.array([[False, True]])), 0
    # group g becomes 2g (hidden) and 2g + 1 (visible); only visible columns stay allowed
    groups = np.asarray(restriction.column_groups, np.int64) * 2 + seen
    allowed = np.zeros((2 * len(restriction.allowed),) * 2, bool)
    allowed[:, 1::2] = np.repeat(np.asarray(restriction.allowed, bool), 2, axis=0)
    return Restriction(groups, allowed), None if query_group is None else 2 * query_group


def _as_f32(a: np.ndarray):
    import torch

    with warnings.catch_warnings():
        # a read-only memory map of the index: torch only reads it, and copying it per query would cost more
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))


def _sorted_topk(scores, k: int):
    """Top ``k`` of each row of ``scores`` [b, C], ordered by (-score, column)."""
    import torch

    n_cols = scores.shape[1]
    if k >= n_cols:
        return torch.sort(scores, dim=1, descending=True, stable=True)
    vals, idx = torch.topk(scores, k + 1, dim=1)
    # a tie across the cut means topk may have picked an arbitrary member of the tied group
    boundary_tie = (vals[:, k - 1] == vals[:, k]) & torch.isfinite(vals[:, k])
    vals, idx = vals[:, :k], idx[:, :k]
    idx, order = torch.sort(idx, dim=1)
    vals = vals.gather(1, order)
    vals, order = torch.sort(vals, dim=1, descending=True, stable=True)
    idx = idx.gather(1, order)
    for r in boundary_tie.nonzero().flatten().tolist():
        row_vals, row_idx = torch.sort(scores[r], descending=True, stable=True)
        vals[r], idx[r] = row_vals[:k], row_idx[:k]
    return vals, idx


def _merge(run_vals, run_idx, vals, idx, k: int):
    """Merge two (-score, index)-ordered candidate lists; ``idx`` are all larger than ``run_idx``."""
    import torch

    vals = torch.cat([run_vals, vals], dim=1)
    idx = torch.cat([run_idx, idx], dim=1)
    vals, order = torch.sort(vals, dim=1, descending=True, stable=True)
    return vals[:, :k], idx.gather(1, order)[:, :k]


class _Database:
    """Column chunks of the database as float32 tensors, loaded once when small enough."""

    def __init__(self, database: np.ndarray, chunk: int, max_bytes: int = DEFAULT_DB_BYTES):
        self.array = database
        self.chunk = chunk
        self.n = database.shape[0]
        self.cached = _as_f32(database) if self.n * database.shape[1] * 4 <= max_bytes else None

    def chunks(self):
        for c0 in range(0, self.n, self.chunk):
            c1 = min(c0 + self.chunk, self.n)
            yield c0, (self.cached[c0:c1] if self.cached is not None else _as_f32(self.array[c0:c1]))


def _check(queries: np.ndarray, database: np.ndarray, k: int) -> None:
    if queries.ndim != 2 or database.ndim != 2 or queries.shape[1] != database.shape[1]:
        raise ValueError(
            f"queries {queries.shape} and database {database.shape} must be 2-D with the same width"
        )
    if k < 1:
        raise UserError(f"k must be at least 1, got {k}")


def _block_shape(n_db: int, k: int, block_rows: int, block_bytes: int) -> tuple[int, int]:
    cols = max(k + 1, min(n_db, block_bytes // (4 * block_rows)))
    return block_rows, min(cols, n_db)


def exact_topk(
    queries: np.ndarray,
    database: np.ndarray,
    k: int,
    *,
    exclude: np.ndarray | None = None,
    query_groups: np.ndarray | None = None,
    restriction: Restriction | None = None,
    block_rows: int = 1024,
    block_bytes: int = DEFAULT_BLOCK_BYTES,
    _db: _Database | None = None,
):
    """Exact top-``k`` database rows for each query by inner product.

    ``exclude`` [Q, E] lists database indices each query must not match (-1 = padding), e.g. the
    query itself or already selected images.  With ``restriction``, ``query_groups`` [Q] gives
    each query's group.  Memory is bounded by ``block_bytes`` per score block plus the database.
    Returns (scores [Q, k] float32, indices [Q, k] int64).
    """
    import torch

    _check(queries, database, k)
    if restriction is not None and query_groups is None:
        raise ValueError("a category restriction needs the group of each query")
    rows, cols = _block_shape(database.shape[0], k, block_rows, block_bytes)
    db = _db or _Database(database, cols)
    out_vals = np.empty((len(queries), k), np.float32)
    out_idx = np.empty((len(queries), k), np.int64)
    groups_t = torch.from_numpy(np.asarray(restriction.column_groups)) if restriction else None
    allowed_t = torch.from_numpy(np.asarray(restriction.allowed, bool)) if restriction else None
    for r0 in range(0, len(queries), rows):
        r1 = min(r0 + rows, len(queries))
        q = _as_f32(queries[r0:r1])
        excl = torch.from_numpy(np.asarray(exclude[r0:r1], np.int64)) if exclude is not None else None
        q_allowed = allowed_t[torch.from_numpy(np.asarray(query_groups[r0:r1]))] if restriction else None
        run_vals = run_idx = None
        for c0, chunk in db.chunks():
            scores = q @ chunk.T
            if excl is not None:
                local = excl - c0
                hit = (excl >= 0) & (local >= 0) & (local < chunk.shape[0])
                scores[hit.nonzero(as_tuple=True)[0], local[hit]] = -torch.inf
            if q_allowed is not None:
                scores.masked_fill_(~q_allowed[:, groups_t[c0 : c0 + chunk.shape[0]]], -torch.inf)
            vals, idx = _sorted_topk(scores, k)
            idx += c0
            if run_vals is None:
                run_vals, run_idx = vals, idx
            else:
                run_vals, run_idx = _merge(run_vals, run_idx, vals, idx, k)
        n = run_vals.shape[1]
        out_vals[r0:r1, :n] = run_vals.numpy()
        out_idx[r0:r1, :n] = run_idx.numpy()
        out_vals[r0:r1, n:], out_idx[r0:r1, n:] = -np.inf, -1
    out_idx[~np.isfinite(out_vals)] = -1
    return out_vals, out_idx


def faiss_topk(
    queries: np.ndarray,
    database: np.ndarray,
    k: int,
    *,
    exclude: np.ndarray | None = None,
    factory: str = "Flat",
    nprobe: int = 16,
    index=None,
    visible: np.ndarray | None = None,
):
    """Top-``k`` by inner product with a faiss index (``factory``: "Flat" exact, "HNSW32",
    "IVF1024,Flat", ... approximate).  Tie order is faiss's own.  ``visible`` [N] bool: only these
    database rows are searched (a faiss ID selector), so a hidden row never takes a place."""
    import faiss

    _check(queries, database, k)
    index = index if index is not None else build_faiss_index(database, factory, nprobe)
    extra = 0 if exclude is None else exclude.shape[1]
    kk = min(k + extra, database.shape[0])
    params = None
    if visible is not None:
        bits = np.packbits(np.asarray(visible, bool), bitorder="little")  # alive until the search ends
        selector = faiss.IDSelectorBitmap(len(visible), faiss.swig_ptr(bits))
        ivf = faiss.try_extract_index_ivf(index)
        params = (
            faiss.SearchParametersIVF(sel=selector, nprobe=ivf.nprobe)
            if ivf is not None
            else faiss.SearchParameters(sel=selector)
        )
    vals, idx = index.search(np.ascontiguousarray(queries, np.float32), kk, params=params)
    if exclude is not None:
        drop = (idx[:, :, None] == exclude[:, None, :]).any(-1) & (idx >= 0)
        vals = np.where(drop, -np.inf, vals)
        order = np.argsort(-vals, axis=1, kind="stable")
        vals, idx = np.take_along_axis(vals, order, 1), np.take_along_axis(idx, order, 1)
    vals, idx = vals[:, :k].astype(np.float32), idx[:, :k].astype(np.int64)
    if vals.shape[1] < k:
        pad = k - vals.shape[1]
        vals = np.pad(vals, ((0, 0), (0, pad)), constant_values=-np.inf)
        idx = np.pad(idx, ((0, 0), (0, pad)), constant_values=-1)
    idx[~np.isfinite(vals) | (idx < 0)] = -1
    vals[idx < 0] = -np.inf
    return vals, idx


def training_sample(database: np.ndarray, lists: int, seed: int) -> np.ndarray:
    """Sorted seeded sample of rows to train an index of ``lists`` inverted lists (all when few)."""
    n = database.shape[0]
    size = min(n, max(TRAIN_PER_LIST * lists, MIN_TRAIN))
    rows = np.sort(np.random.default_rng(seed).choice(n, size, replace=False)) if size < n else slice(None)
    return np.ascontiguousarray(database[rows], np.float32)


def set_nprobe(index, nprobe: int) -> None:
    """Inverted lists an IVF index visits per query (no-op for other indexes)."""
    import faiss

    ivf = faiss.try_extract_index_ivf(index)
    if ivf is not None:
        ivf.nprobe = min(nprobe, ivf.nlist)


def build_faiss_index(database: np.ndarray, factory: str = "Flat", nprobe: int = 16, seed: int = 0):
    """A faiss inner-product index over ``database`` (a memory map is read in blocks: the index
    holds the one copy).  IVF indexes train on a seeded sample of 40 rows per list."""
    import faiss

    dim = database.shape[1]
    index = faiss.index_factory(dim, factory, faiss.METRIC_INNER_PRODUCT)
    if not index.is_trained:
        ivf = faiss.try_extract_index_ivf(index)
        index.train(training_sample(database, ivf.nlist if ivf is not None else 1, seed))
    for r0 in range(0, database.shape[0], ADD_ROWS):
        index.add(np.ascontiguousarray(database[r0 : r0 + ADD_ROWS], np.float32))
    set_nprobe(index, nprobe)
    return index


def _exact_reference(embeddings: np.ndarray, rows: np.ndarray, k: int, exclude_self: bool, block_bytes: int):
    """Exact top-k indices of ``rows``, streaming the database so no second full copy is held."""
    _, cols = _block_shape(embeddings.shape[0], k, max(len(rows), 1), block_bytes)
    excl = rows[:, None] if exclude_self else None
    db = _Database(embeddings, cols, max_bytes=0)
    return exact_topk(embeddings[rows], embeddings, k, exclude=excl, block_rows=max(len(rows), 1), _db=db)[1]


def build_neighbours(
    embeddings: np.ndarray,
    k: int,
    plan: NeighbourPlan,
    *,
    exclude_self: bool = True,
    target_recall: float = DEFAULTS.target_recall,
    recall_queries: int = DEFAULTS.recall_queries,
    seed: int = DEFAULTS.seed,
    block_bytes: int = DEFAULT_BLOCK_BYTES,
):
    """(faiss index or None for exact, :class:`NeighbourBuild`) for ``plan``.  An IVF index's
    nprobe doubles from 8 until recall@k on up to 256 tuning queries reaches ``target_recall``; then
    recall@k is measured on ``recall_queries`` other seeded queries against exact search."""
    if plan.backend == "exact":
        return None, NeighbourBuild("exact", "", None, k, 1.0, 0, 0.0, plan.reason)
    import faiss

    start = time.perf_counter()
    index = build_faiss_index(embeddings, plan.factory, seed=seed)
    tune, measure = sample_queries(embeddings.shape[0], recall_queries, seed)
    both = np.union1d(tune, measure)
    reference = dict(zip(both.tolist(), _exact_reference(embeddings, both, k, exclude_self, block_bytes)))

    def recall(rows: np.ndarray) -> float:
        excl = rows[:, None] if exclude_self else None
        found = faiss_topk(embeddings[rows], embeddings, k, exclude=excl, index=index)[1]
        return recall_at_k(found, np.stack([reference[r] for r in rows.tolist()]))

    ivf = faiss.try_extract_index_ivf(index)
    nprobe = None
    if ivf is not None:
        # an automatic plan stops at an eighth of the lists: past that, IVF scans so much that exact
        # search is as cheap (uniform vectors, the worst case, get there), so IVF,Flat gives way to
        # exact; IVF-PQ (chosen for memory) keeps the recall it reached; an explicit factory goes on
        most = max(16, ivf.nlist // 8) if plan.automatic else ivf.nlist
        nprobe = min(8, ivf.nlist)
        set_nprobe(index, nprobe)
        while (reached := recall(tune)) < target_recall and nprobe < min(most, ivf.nlist):
            nprobe = min(2 * nprobe, most, ivf.nlist)
            set_nprobe(index, nprobe)
        if reached < target_recall and plan.automatic and plan.factory.endswith(",Flat"):
            reason = (
                f"{plan.factory} reached recall@{k} {reached:.3f} < {target_recall} at nprobe {nprobe} "
                f"of {ivf.nlist}: exact search is as cheap"
            )
            log.warning("neighbours: %s", reason)
            return None, NeighbourBuild(
                "exact", "", None, k, 1.0, 0, round(time.perf_counter() - start, 2), reason
            )
    build = NeighbourBuild(
        "faiss",
        plan.factory,
        nprobe,
        k,
        round(recall(measure), 4),
        len(measure),
        round(time.perf_counter() - start, 2),
        plan.reason,
    )
    return index, build


def topk(
    queries: np.ndarray,
    database: np.ndarray,
    k: int,
    *,
    backend: str = "exact",
    exclude: np.ndarray | None = None,
    query_groups: np.ndarray | None = None,
    restriction: Restriction | None = None,
    faiss_factory: str = "Flat",
    **kw,
):
    """Dispatch to :func:`exact_topk` (``backend="exact"``, or ``"auto"``: a query is one pass over
    the vectors, cheaper than building an index) or :func:`faiss_topk` (``"faiss"``).  A category
    restriction or hidden rows with faiss fall back to exact search (logged): filtering an
    approximate top-k afterwards could leave fewer than k."""
    if backend == "faiss" and restriction is not None:
        log.info("category restriction or hidden rows: exact search instead of faiss")
        backend = "exact"
    if backend in ("exact", "auto"):
        return exact_topk(
            queries, database, k, exclude=exclude, query_groups=query_groups, restriction=restriction, **kw
        )
    if backend == "faiss":
        return faiss_topk(queries, database, k, exclude=exclude, factory=faiss_factory)
    raise UserError(f"unknown neighbour backend {backend!r}; expected 'auto', 'exact' or 'faiss'")


def nearest_others(embeddings: np.ndarray, k: int, **kw) -> np.ndarray:
    """Indices [N, k] of each row's ``k`` nearest other rows (itself excluded), best first."""
    _, idx = exact_topk(embeddings, embeddings, k, exclude=np.arange(len(embeddings))[:, None], **kw)
    return idx


class _NpyStream:
    """Write a .npy file block by block (rows appended in order) without holding it in memory."""

    def __init__(self, path: Path, shape: tuple[int, int], dtype):
        self.dtype = np.dtype(dtype)
        self.fh = open(path, "wb")  # noqa: SIM115 - streaming writer, closed by close()
        np.lib.format.write_array_header_1_0(
            self.fh,
            {"descr": np.lib.format.dtype_to_descr(self.dtype), "fortran_order": False, "shape": shape},
        )

    def write(self, block: np.ndarray) -> None:
        self.fh.write(np.ascontiguousarray(block, self.dtype).tobytes())

    def close(self) -> None:
        self.fh.close()


def all_pairs_topk(
    embeddings: np.ndarray,
    k: int,
    out_dir: str | Path,
    *,
    backend: str = "auto",
    exclude_self: bool = True,
    block_rows: int = 1024,
    block_bytes: int = DEFAULT_BLOCK_BYTES,
    score_dtype: str = "float32",
    faiss_factory: str = "",
    memory_gb: float = DEFAULTS.memory_gb,
    exact_max: int = DEFAULTS.exact_max,
    target_recall: float = DEFAULTS.target_recall,
    recall_queries: int = DEFAULTS.recall_queries,
    seed: int = DEFAULTS.seed,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
    row_ids: np.ndarray | None = None,
) -> Path:
    """Top-``k`` neighbours of every row of ``embeddings`` (a memory map is fine), streamed into
    ``out_dir``: ``indices.npy`` [N, k] int32 and ``scores.npy`` [N, k], plus ``meta.json``.
    Open the results with ``load_all_pairs`` (memory-mapped).  No N x N matrix is formed.
    ``backend``: auto (exact up to ``exact_max`` rows, else faiss IVF within ``memory_gb``; see
    :mod:`hubbleclip.similarity.backend`), exact, or faiss with ``faiss_factory`` ('' = the
    automatic factory).  meta.json records the backend, factory, nprobe and recall@k against exact
    on ``recall_queries`` seeded rows (1.0 by construction for exact).
    ``row_ids``: the index rows that ``embeddings`` are (e.g. the visible ones: hidden rows are not
    in the search at all); indices are then written as index rows and ``rows.npy`` says which index
    row each output line belongs to."""
    n = embeddings.shape[0]
    k = min(k, n - 1 if exclude_self else n)
    if k < 1:
        raise UserError(f"need at least {2 if exclude_self else 1} vectors for neighbours, got {n}")
    start = time.perf_counter()
    plan = resolve_plan(backend, faiss_factory, n, embeddings.shape[1], memory_gb, exact_max)
    fidx, build = build_neighbours(
        embeddings,
        k,
        plan,
        exclude_self=exclude_self,
        target_recall=target_recall,
        recall_queries=recall_queries,
        seed=seed,
        block_bytes=block_bytes,
    )
    log.info(build.describe())
    rows, cols = _block_shape(n, k, block_rows, block_bytes)
    db = _Database(embeddings, cols) if fidx is None else None
    with atomic_directory(out_dir, overwrite=overwrite) as tmp:
        idx_out = _NpyStream(tmp / "indices.npy", (n, k), np.int32 if n < 2**31 else np.int64)
        val_out = _NpyStream(tmp / "scores.npy", (n, k), score_dtype)
        try:
            for r0 in range(0, n, rows):
                r1 = min(r0 + rows, n)
                excl = np.arange(r0, r1)[:, None] if exclude_self else None
                if fidx is None:
                    vals, idx = exact_topk(
                        embeddings[r0:r1],
                        embeddings,
                        k,
                        exclude=excl,
                        block_rows=rows,
                        block_bytes=block_bytes,
                        _db=db,
                    )
                else:
                    vals, idx = faiss_topk(embeddings[r0:r1], embeddings, k, exclude=excl, index=fidx)
                if row_ids is not None:
                    idx = np.where(idx >= 0, row_ids[np.maximum(idx, 0)], -1)
                idx_out.write(idx)
                val_out.write(vals)
                if progress:
                    progress(r1, n)
        finally:
            idx_out.close()
            val_out.close()
        if row_ids is not None:
            np.save(tmp / "rows.npy", np.asarray(row_ids, np.int64))
        atomic_write_json(
            tmp / "meta.json",
            {
                **({"rows": "rows.npy"} if row_ids is not None else {}),
                "n": n,
                "exclude_self": exclude_self,
                "score_dtype": score_dtype,
                **build.to_dict(),
                "seconds": round(time.perf_counter() - start, 2),
            },
        )
    return Path(out_dir)


def load_all_pairs(path: str | Path) -> tuple[np.ndarray, np.ndarray, dict]:
    """(indices, scores, meta) of an all-pairs directory, arrays memory-mapped read-only."""
    path = Path(path)
    if not (path / "meta.json").is_file():
        raise FileNotFoundError(f"{path} is not an all-pairs neighbour directory (no meta.json)")
    meta = json.loads((path / "meta.json").read_text())
    return (np.load(path / "indices.npy", mmap_mode="r"), np.load(path / "scores.npy", mmap_mode="r"), meta)
