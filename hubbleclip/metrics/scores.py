"""Query × candidate scores served in blocks, so no caller needs the whole score matrix.

:class:`EmbeddingScores` computes a block from the embeddings when asked (100k × 100k would be
80 GB as one float64 matrix); :class:`MatrixScores` wraps a matrix already in memory (the random
baseline, hand-written cases).  Both give float64 blocks: a float32 matrix product gives identical
embeddings in different columns scores that differ in the last bit, which would decide ties by
rounding noise; products of float32 numbers are exact in float64 and the sums keep errors near
1e-16, far inside :data:`hubbleclip.metrics.ranking.TIE_TOLERANCE`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class EmbeddingScores:
    """Scores ``queries @ candidates.T`` of [n, d] and [m, d] embeddings, computed per block."""

    queries: np.ndarray
    candidates: np.ndarray

    def __post_init__(self) -> None:
        for name in ("queries", "candidates"):
            object.__setattr__(self, name, np.ascontiguousarray(getattr(self, name), dtype=np.float64))
        if (
            self.queries.ndim != 2
            or self.candidates.ndim != 2
            or self.queries.shape[1] != self.candidates.shape[1]
        ):
            raise ValueError(
                f"embeddings of shapes {self.queries.shape} and {self.candidates.shape} do not match"
            )

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.queries), len(self.candidates)

    @property
    def T(self) -> EmbeddingScores:
        return EmbeddingScores(self.candidates, self.queries)

    def block(self, rows: np.ndarray | slice, cols: np.ndarray | None = None) -> np.ndarray:
        """[len(rows), len(cols)] float64 scores (every candidate when ``cols`` is None)."""
        candidates = self.candidates if cols is None else self.candidates[cols]
        return self.queries[rows] @ candidates.T

    def subset(self, rows: np.ndarray, cols: np.ndarray) -> EmbeddingScores:
        return EmbeddingScores(self.queries[rows], self.candidates[cols])


@dataclass(frozen=True)
class MatrixScores:
    """A [queries, candidates] score matrix already in memory, served the same way."""

    matrix: np.ndarray

    def __post_init__(self) -> None:
        if np.ndim(self.matrix) != 2:
            raise ValueError(
                f"scores must be a [queries, candidates] matrix, got shape {np.shape(self.matrix)}"
            )

    @property
    def shape(self) -> tuple[int, int]:
        return self.matrix.shape

    @property
    def T(self) -> MatrixScores:
        return MatrixScores(self.matrix.T)

    def block(self, rows: np.ndarray | slice, cols: np.ndarray | None = None) -> np.ndarray:
        block = self.matrix[rows] if cols is None else self.matrix[rows][:, cols]
        return np.asarray(block, dtype=np.float64)

    def subset(self, rows: np.ndarray, cols: np.ndarray) -> MatrixScores:
        return MatrixScores(self.matrix[np.ix_(rows, cols)])


Scores = EmbeddingScores | MatrixScores


def as_scores(scores: Scores | np.ndarray) -> Scores:
    """``scores`` as a block server (a plain array becomes :class:`MatrixScores`)."""
    return scores if isinstance(scores, EmbeddingScores | MatrixScores) else MatrixScores(np.asarray(scores))


BLOCK_SCORES = 1 << 23  # scores per block when the chunk size is automatic: 64 MB of float64


def row_blocks(scores: Scores, chunk: int = 0) -> Iterator[tuple[slice, np.ndarray]]:
    """``(rows, block)`` over consecutive query rows, ``chunk`` at a time (0: as many as fit in
    :data:`BLOCK_SCORES` scores)."""
    n, m = scores.shape
    step = chunk if chunk > 0 else max(1, BLOCK_SCORES // max(m, 1))
    for start in range(0, n, step):
        rows = slice(start, min(start + step, n))
        yield rows, scores.block(rows)
