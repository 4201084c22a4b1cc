"""Rank-based retrieval metrics for queries with any number of correct candidates.

A query's rank is the position of its best-scored correct candidate, counting only wrong
candidates above it (other correct candidates never push it down).  Ties are broken against the
query: a wrong candidate with the same score (within :data:`TIE_TOLERANCE`, in float64) counts as
ranked above, so constant, collapsed or duplicated embeddings cannot look good.

These are the project's definitions (identical captions merged, any caption of the same object
correct); :mod:`hubbleclip.metrics.pairs` has PAPERCLIP's pair-level ones.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import scipy.sparse as sp

from hubbleclip.errors import UserError
from hubbleclip.metrics.scores import Scores, as_scores


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


TIE_TOLERANCE = 1e-12  # scores this close count as tied (float64 noise of a dot product is ~1e-16)


def _check_finite(block: np.ndarray) -> None:
    if np.isnan(block).any():
        raise UserError("scores contain NaN (embeddings diverged or were not normalised)")


def relevant_ranks(block: np.ndarray, relevant: sp.csr_matrix, offset: int = 0) -> np.ndarray:
    """Ranks of one block of queries: ``block`` [q, m] float scores, ``relevant`` its [q, m] rows.

    The rank is 1 + the wrong candidates scoring at or above (within :data:`TIE_TOLERANCE`) the best
    correct one, counted as (all at or above) - (correct at or above), so no dense mask is built.
    ``offset`` is the block's first query (for the error message).
    """
    block = np.asarray(block, dtype=np.float64)
    _check_finite(block)
    relevant = sp.csr_matrix(relevant, dtype=bool)
    relevant.eliminate_zeros()
    relevant.sum_duplicates()
    counts = np.diff(relevant.indptr)
    if (counts == 0).any():
        raise ValueError(f"query {offset + int(np.flatnonzero(counts == 0)[0])} has no correct candidate")
    rows = np.repeat(np.arange(block.shape[0]), counts)
    correct = block[rows, relevant.indices]
    threshold = np.maximum.reduceat(correct, relevant.indptr[:-1]) - TIE_TOLERANCE
    at_or_above = (block >= threshold[:, None]).sum(axis=1)
    correct_above = np.bincount(rows, weights=correct >= threshold[rows], minlength=block.shape[0])
    return (1 + at_or_above - correct_above).astype(np.int64)


def own_partner_ranks(block: np.ndarray, own: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Rank of one given candidate per query (pair-level: the own partner only; ties against it).

    ``block`` [q, m] scores, ``own[i]`` the column of query i's partner.  ``weights[j]`` counts
    column j that many times (a caption shared by several pairs is that many columns of the
    pair-level matrix, all tied with each other); the own column's other copies count against it.
    """
    block = np.asarray(block, dtype=np.float64)
    _check_finite(block)
    threshold = block[np.arange(block.shape[0]), own] - TIE_TOLERANCE
    at_or_above = block >= threshold[:, None]
    if weights is None:
        return at_or_above.sum(axis=1).astype(np.int64)
    return np.rint(at_or_above @ np.asarray(weights, dtype=np.float64)).astype(np.int64)


def first_relevant_ranks(
    scores: np.ndarray, relevant: sp.spmatrix | np.ndarray, chunk: int = 1024
) -> np.ndarray:
    """1-based rank of each query's best correct candidate (ties against the query).

    ``scores`` is [queries, candidates] (higher is better), compared in float64 within
    :data:`TIE_TOLERANCE`; ``relevant`` a boolean matrix of the same shape.  Every query needs at
    least one correct candidate.
    """
    scores = np.asarray(scores)
    if scores.ndim != 2:
        raise ValueError(f"scores must be a [queries, candidates] matrix, got shape {scores.shape}")
    if relevant.shape != scores.shape:
        raise ValueError(f"relevance shape {relevant.shape} does not match scores shape {scores.shape}")
    relevant = sp.csr_matrix(relevant, dtype=bool)
    ranks = np.empty(scores.shape[0], dtype=np.int64)
    for start in range(0, scores.shape[0], chunk):
        rows = slice(start, start + chunk)
        ranks[rows] = relevant_ranks(scores[rows], relevant[rows], offset=start)
    return ranks


def fraction_cutoff(percent: float, n_candidates: int) -> int:
    """PAPERCLIP's cut-off ⌊k/100·N⌋, computed exactly (0.29·100 must not become 28).

    It is 0 when k/100·N < 1: a metric at that cut-off is not defined (see :func:`cutoff_reason`).
    """
    return int(Fraction(str(percent)) * n_candidates // 100)


def cutoff_reason(percent: float, n_candidates: int) -> str | None:
    """Why accuracy at ``percent``% is not reported for N candidates (cut-off 0), else None."""
    return f"cut-off 0 of {n_candidates}" if fraction_cutoff(percent, n_candidates) == 0 else None


def hits_at_fraction(ranks: np.ndarray, n_candidates: int, percent: float) -> np.ndarray:
    """Per query: does the correct partner rank within the top ⌊percent/100·N⌋?"""
    return np.asarray(ranks) <= fraction_cutoff(percent, n_candidates)


def accuracy_curve(ranks: np.ndarray, n_candidates: int, percents: Sequence[float]) -> list[float]:
    """Share of queries whose partner ranks within ⌊k/100·N⌋, at each k of ``percents``.

    This is the formula of PAPERCLIP's paper, evaluated at the percents given (the stored curve
    uses every 0.5%).  PAPERCLIP's plotting code instead samples the top-k at k = 1, 101, 201, ...
    candidates, so its curve starts at k = 1 (not 0%) and steps in 100 candidates, not in percent.
    """
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


@dataclass(frozen=True)
class InBatchHits:
    """Per-query top-k hit rates inside batches and the chance of each (the same average)."""

    image_hits: np.ndarray  # per image: image→text hit rate over the batches it was in
    text_hits: np.ndarray  # per text: text→image hit rate over the batches it was in
    image_chance: np.ndarray
    text_chance: np.ndarray


def in_batch_hits(
    scores: Scores,
    relevant: sp.spmatrix,
    image_text: np.ndarray,
    *,
    batch_size: int = 100,
    k: int = 10,
    repeats: int = 5,
    seed: int = 0,
) -> InBatchHits | None:
    """Top-k retrieval inside random batches of exactly ``batch_size`` images (ours).

    ``scores``/``relevant`` are [images, texts]; ``image_text[i]`` is the text paired with image i.
    Each repeat shuffles the images and cuts them into full batches of ``batch_size``, dropping the
    last partial one (repeats go on past ``repeats`` until every image was in a batch).  In each
    batch every image ranks the batch's *distinct* texts and every distinct text ranks the batch's
    images, any caption of the same text or object counting as correct.  Returns per-query hit
    rates and their chance (the exact random-ranking hit rate in the same batches), or None when
    there are fewer than ``batch_size`` images.

    With one unique caption per image this is PAPERCLIP's validation metric (top-k of a batch);
    where captions are shared it is higher than PAPERCLIP's, which counts only the own partner
    (:func:`hubbleclip.metrics.pairs.paper_in_batch_hits`).
    """
    scores = as_scores(scores)
    n_images, n_texts = scores.shape
    if n_images < batch_size:
        return None
    if np.bincount(image_text, minlength=n_texts).min() == 0:
        raise ValueError("every text needs at least one paired image for the in-batch metric")
    relevant = sp.csr_matrix(relevant, dtype=bool)
    rng = np.random.default_rng(seed)
    sums = {
        key: np.zeros(n) for key, n in (("i", n_images), ("ic", n_images), ("t", n_texts), ("tc", n_texts))
    }
    i_seen, t_seen = np.zeros(n_images), np.zeros(n_texts)
    full = n_images // batch_size * batch_size
    done = 0
    while done < repeats or not i_seen.all():
        for batch in rng.permutation(n_images)[:full].reshape(-1, batch_size):
            texts = np.unique(image_text[batch])
            block, rel = scores.block(batch, texts), relevant[batch][:, texts]
            sums["i"][batch] += relevant_ranks(block, rel) <= k
            sums["ic"][batch] += chance_hit_rate(len(texts), np.asarray(rel.sum(axis=1)).ravel(), k)
            sums["t"][texts] += relevant_ranks(block.T, rel.T.tocsr()) <= k
            sums["tc"][texts] += chance_hit_rate(batch_size, np.asarray(rel.sum(axis=0)).ravel(), k)
            i_seen[batch] += 1
            t_seen[texts] += 1
        done += 1
    return InBatchHits(sums["i"] / i_seen, sums["t"] / t_seen, sums["ic"] / i_seen, sums["tc"] / t_seen)
