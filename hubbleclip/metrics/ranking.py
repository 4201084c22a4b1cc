"""Rank-based retrieval metrics for queries with any number of correct candidates.

A query's rank is the position of its best-scored correct candidate, counting only wrong
candidates above it (other correct candidates never push it down).  Ties are broken against the
query: a wrong candidate with exactly the same score counts as ranked above, so constant or
collapsed embeddings cannot look good.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable, Sequence
from fractions import Fraction

import numpy as np
import scipy.sparse as sp

from hubbleclip.errors import UserError


def relevance_from_keys(
    query_keys: Sequence[Iterable[Hashable]], candidate_keys: Sequence[Iterable[Hashable]]
) -> sp.csr_matrix:
    """Boolean [queries, candidates] matrix: a candidate is correct when it shares any key.

    Keys are e.g. ``("caption", text)`` and ``("object", object_id)``, so an image is a correct
    partner of its own caption and of any caption written for the same object.
    """
    by_key: dict[Hashable, list[int]] = defaultdict(list)
    for j, keys in enumerate(candidate_keys):
        for key in set(keys):
            by_key[key].append(j)
    rows, cols = [], []
    for i, keys in enumerate(query_keys):
        hits = {j for key in set(keys) for j in by_key.get(key, ())}
        rows.extend([i] * len(hits))
        cols.extend(hits)
    data = np.ones(len(rows), dtype=bool)
    return sp.csr_matrix((data, (rows, cols)), shape=(len(query_keys), len(candidate_keys)), dtype=bool)


def first_relevant_ranks(
    scores: np.ndarray, relevant: sp.spmatrix | np.ndarray, chunk: int = 1024
) -> np.ndarray:
    """1-based rank of each query's best correct candidate (ties against the query).

    ``scores`` is [queries, candidates] (higher is better); ``relevant`` a boolean matrix of the
    same shape.  Every query needs at least one correct candidate.
    """
    scores = np.asarray(scores)
    if scores.ndim != 2:
        raise ValueError(f"scores must be a [queries, candidates] matrix, got shape {scores.shape}")
    if relevant.shape != scores.shape:
        raise ValueError(f"relevance shape {relevant.shape} does not match scores shape {scores.shape}")
    if np.isnan(scores).any():
        raise UserError("scores contain NaN (embeddings diverged or were not normalised)")
    relevant = sp.csr_matrix(relevant, dtype=bool)
    ranks = np.empty(scores.shape[0], dtype=np.int64)
    for start in range(0, scores.shape[0], chunk):
        s = scores[start : start + chunk]
        mask = relevant[start : start + chunk].toarray()
        missing = np.flatnonzero(~mask.any(axis=1))
        if missing.size:
            raise ValueError(f"query {start + int(missing[0])} has no correct candidate")
        best = np.where(mask, s, -np.inf).max(axis=1)
        ranks[start : start + chunk] = 1 + ((s >= best[:, None]) & ~mask).sum(axis=1)
    return ranks


def fraction_cutoff(percent: float, n_candidates: int) -> int:
    """PAPERCLIP's cut-off ⌊k/100·N⌋, computed exactly (0.29·100 must not become 28)."""
    return int(Fraction(str(percent)) * n_candidates // 100)


def hits_at_fraction(ranks: np.ndarray, n_candidates: int, percent: float) -> np.ndarray:
    """Per query: does the correct partner rank within the top ⌊percent/100·N⌋?"""
    return np.asarray(ranks) <= fraction_cutoff(percent, n_candidates)


def accuracy_curve(ranks: np.ndarray, n_candidates: int, percents: Sequence[float]) -> list[float]:
    """Retrieval accuracy at each retrieved fraction (PAPERCLIP's curve)."""
    return [float(hits_at_fraction(ranks, n_candidates, p).mean()) for p in percents]


def chance_hit_rate(n_candidates: int, n_correct: np.ndarray, cutoff: int) -> np.ndarray:
    """Probability that a uniformly random ranking puts one of ``n_correct`` partners in the top ``cutoff``.

    1 - C(N-m, r) / C(N, r), through log-gamma so large N stays exact enough.
    """
    from scipy.special import gammaln

    m = np.asarray(n_correct, dtype=np.float64)
    n, r = float(n_candidates), float(min(max(cutoff, 0), n_candidates))
    never = n - m < r  # fewer wrong candidates than slots: always a hit
    wrong = np.where(never, r, n - m)  # placeholder keeps gammaln finite where masked
    log_miss = gammaln(wrong + 1) - gammaln(wrong - r + 1) - gammaln(n + 1) + gammaln(n - r + 1)
    return np.where(never, 1.0, 1.0 - np.exp(log_miss))


def chance_mean_rank(n_candidates: int, n_correct: np.ndarray) -> np.ndarray:
    """Expected position of the first of ``n_correct`` partners in a random ranking: (N+1)/(m+1)."""
    return (n_candidates + 1) / (np.asarray(n_correct, dtype=np.float64) + 1)


def in_batch_hits(
    scores: np.ndarray,
    relevant: sp.spmatrix,
    image_text: np.ndarray,
    *,
    batch_size: int = 100,
    k: int = 10,
    repeats: int = 5,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """PAPERCLIP's validation metric: top-k retrieval within random batches of image-text pairs.

    ``scores``/``relevant`` are [images, texts]; ``image_text[i]`` is the text paired with image i.
    The images are shuffled and cut into batches of about ``batch_size`` (``repeats`` times); in
    each batch every image ranks the batch's distinct texts and every distinct text ranks the
    batch's images.  Returns the per-image (image→text) and per-text (text→image) hit rates
    averaged over the batches each appeared in; their means over images equal PAPERCLIP's average
    over equally sized batches.
    """
    n_images, n_texts = scores.shape
    if np.bincount(image_text, minlength=n_texts).min() == 0:
        raise ValueError("every text needs at least one paired image for the in-batch metric")
    relevant = sp.csr_matrix(relevant, dtype=bool)
    relevant_t = relevant.T.tocsr()
    rng = np.random.default_rng(seed)
    i_hits, i_seen = np.zeros(n_images), np.zeros(n_images)
    t_hits, t_seen = np.zeros(n_texts), np.zeros(n_texts)
    n_batches = max(1, round(n_images / batch_size))
    for _ in range(repeats):
        for batch in np.array_split(rng.permutation(n_images), n_batches):
            texts = np.unique(image_text[batch])
            sub = scores[np.ix_(batch, texts)]
            i_hits[batch] += first_relevant_ranks(sub, relevant[batch][:, texts]) <= k
            i_seen[batch] += 1
            t_hits[texts] += first_relevant_ranks(sub.T, relevant_t[texts][:, batch]) <= k
            t_seen[texts] += 1
    return i_hits / i_seen, t_hits / t_seen
