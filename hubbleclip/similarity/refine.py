"""Similar images: rank the database by similarity to a query image and the images a user selected.

This is the one meaning of "similar images" for the CLI (``hubbleclip similar``), the demo and the
web page: Rocchio-style relevance feedback with positives only.  The query and the selection are
one set of examples of what the user wants; ``mean`` ranks by the cosine to the normalised mean of
their (normalised) vectors, ``max`` ranks each image by its best cosine to any of them.  Without a
selection both are the query's nearest neighbours.  The query and the selection never appear in
the result (the user has them already).
"""

from __future__ import annotations

import numpy as np

from hubbleclip.errors import UserError
from hubbleclip.similarity.neighbours import Restriction, only_visible, topk

METHODS = ("mean", "max")


def _normalise(x: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(x, axis=-1, keepdims=True)
    if np.any(norm == 0):
        raise ValueError("cannot normalise a zero vector")
    return x / norm


def combine(vectors: np.ndarray) -> np.ndarray:
    """Normalised mean of the normalised rows of ``vectors`` [S, D] -> [D]."""
    return _normalise(_normalise(np.asarray(vectors, np.float32)).mean(0))


def refine(
    embeddings: np.ndarray,
    selected: list[int],
    k: int,
    *,
    method: str = "mean",
    extra: np.ndarray | None = None,
    backend: str = "exact",
    query_group: int | None = None,
    restriction: Restriction | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` (scores, indices) of ``embeddings`` for the selected rows, excluding them.
    ``extra`` [E, D] adds query vectors from outside the database (e.g. an uploaded image)."""
    if method not in METHODS:
        raise UserError(f"unknown refinement method {method!r}; expected one of {list(METHODS)}")
    sel = np.unique(np.asarray(selected, np.int64))
    if not len(sel) and extra is None:
        raise UserError("refinement needs at least one selected image")
    if len(sel) and (sel.min() < 0 or sel.max() >= len(embeddings)):
        raise UserError(f"selected indices must lie in [0, {len(embeddings)}), got {selected}")
    chosen = np.asarray(embeddings[sel], np.float32).reshape(len(sel), embeddings.shape[1])
    if extra is not None:
        chosen = np.concatenate([chosen, np.asarray(extra, np.float32).reshape(-1, embeddings.shape[1])])
    groups = None if query_group is None else np.full(len(chosen), query_group)
    if not len(sel):
        sel = np.array([-1])  # nothing to exclude
    if method == "mean":
        vals, idx = topk(
            combine(chosen)[None],
            embeddings,
            k,
            backend=backend,
            exclude=sel[None],
            query_groups=groups[:1] if groups is not None else None,
            restriction=restriction,
        )
        return vals[0], idx[0]
    # max: an image's best match is among the top-k of the selected image it is closest to
    vals, idx = topk(
        _normalise(chosen),
        embeddings,
        k,
        backend=backend,
        exclude=np.tile(sel, (len(chosen), 1)),
        query_groups=groups,
        restriction=restriction,
    )
    vals, idx = vals.ravel(), idx.ravel()
    order = np.lexsort((idx, -vals))  # by score, then index; keeps each index's best score first
    vals, idx = vals[order], idx[order]
    _, first = np.unique(idx, return_index=True)
    keep = np.sort(first)
    keep = keep[idx[keep] >= 0]
    vals, idx = vals[keep][:k], idx[keep][:k]
    pad = k - len(idx)
    return np.pad(vals, (0, pad), constant_values=-np.inf), np.pad(idx, (0, pad), constant_values=-1)


def rank_similar(
    embeddings: np.ndarray,
    examples: list[int],
    k: int,
    *,
    method: str = "mean",
    extra: np.ndarray | None = None,
    backend: str = "exact",
    visible: np.ndarray | None = None,
    query_group: int | None = None,
    restriction: Restriction | None = None,
) -> list[tuple[int, float]]:
    """Up to ``k`` (row, cosine) pairs, best first, for the query and the selection together
    (``examples``: the query's row first when it is in the database, then the selected rows;
    ``extra`` [E, D]: query vectors from outside it, e.g. an uploaded file).  ``visible`` (a mask
    from :mod:`hubbleclip.access`; None = all) keeps hidden rows out of the ranking."""
    if backend != "exact" and visible is not None and not visible.all():
        raise UserError("hiding rows that are not public needs the exact backend (--backend exact)")
    restriction, query_group = only_visible(visible, restriction, query_group)
    n = len(embeddings) if visible is None else int(np.count_nonzero(visible))
    vals, idx = refine(
        embeddings,
        examples,
        max(min(k, n), 1),
        method=method,
        extra=extra,
        backend=backend,
        query_group=query_group,
        restriction=restriction,
    )
    return [(int(i), float(v)) for v, i in zip(vals, idx) if i >= 0][:k]
