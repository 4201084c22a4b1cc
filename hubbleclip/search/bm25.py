"""BM25 over one text field of the corpus, with bm25s (sparse, precomputed, memory-mapped).

bm25s's "robertson" method is Okapi BM25 with the idf floored at 0, and its term-frequency
part leaves out the constant factor (k1 + 1).  :meth:`BM25Field.scores` puts that factor back,
so the scores equal ``rank_bm25.BM25Okapi(tokens, k1, b, epsilon=0).get_scores`` exactly (with
``epsilon=0`` rank_bm25 also floors negative idf at 0).  ``tests/test_retrieval_bm25.py`` and
``bench/bench_search.py`` check this.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

K1, B = 1.5, 0.75


class BM25Field:
    def __init__(self, retriever):
        self.retriever = retriever
        self.k1 = float(retriever.k1)
        self.n_docs = int(retriever.scores["num_docs"])

    @classmethod
    def build(cls, docs_tokens: list[list[str]], k1: float = K1, b: float = B) -> BM25Field:
        import bm25s

        retriever = bm25s.BM25(method="robertson", k1=k1, b=b)
        retriever.index(_non_empty(docs_tokens), show_progress=False)
        return cls(retriever)

    def save(self, directory: str | Path) -> None:
        self.retriever.save(str(directory))

    @classmethod
    def load(cls, directory: str | Path, mmap: bool = True) -> BM25Field:
        import bm25s

        return cls(bm25s.BM25.load(str(directory), mmap=mmap))

    def scores(self, query_tokens: list[str]) -> np.ndarray:
        """Okapi BM25 of every document for one tokenised query (zeros when no term is known)."""
        ids = self.retriever.get_tokens_ids([t for t in query_tokens if t])
        if not ids:
            return np.zeros(self.n_docs, np.float32)
        return np.asarray(self.retriever.get_scores_from_ids(ids), np.float32) * np.float32(self.k1 + 1.0)


def okapi_reference(docs_tokens: list[list[str]], k1: float = K1, b: float = B):
    """rank_bm25's Okapi BM25 over the same tokens, configured to match :class:`BM25Field`."""
    from rank_bm25 import BM25Okapi

    return BM25Okapi(_non_empty(docs_tokens), k1=k1, b=b, epsilon=0.0)


def _non_empty(docs_tokens: list[list[str]]) -> list[list[str]]:
    """bm25s needs at least one token per document: an empty one gets the empty token."""
    return [t if t else [""] for t in docs_tokens]
