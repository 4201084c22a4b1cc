"""Query latency over the whole corpus, beside rank_bm25 measured in the same run.

For every text query of the query file: the full search (the resolver stage, then tokenise, BM25
on names and text with bm25s, CLIP query embedding and top-N, features, ranker, top-k), the same
search without the resolver stage (``understand=False``: the search before it, timed in turn with
the full one on the same searcher), BM25 alone with bm25s, and ``rank_bm25.BM25Okapi.get_scores``
over the same tokens of the same texts.  Also checks that the two BM25 engines give the same
scores (largest absolute and relative difference).
"""

from __future__ import annotations

import time

import numpy as np

from hubbleclip.search.bm25 import okapi_reference
from hubbleclip.search.queries import load_queries
from hubbleclip.search.searcher import Searcher
from hubbleclip.search.text import tokenize, tokenize_many


def _timed(fn, *args) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn(*args)
    return (time.perf_counter() - t0) * 1000.0, out


def bench_search(index_dir: str, queries_file: str | None = None, repeats: int = 3, k: int = 10) -> dict:
    t_load, searcher = _timed(Searcher.open, index_dir)
    texts = [q.text for q in load_queries(queries_file)]
    t_ref, reference = _timed(okapi_reference, tokenize_many(searcher.index.corpus.bm25_texts()))
    searcher.search(text=texts[0], k=k)  # warm caches (tokenizer, BLAS, LightGBM)
    full, today, bm25s_ms, rank_ms, max_abs, max_rel = [], [], [], [], 0.0, 0.0
    for repeat in range(repeats):
        for text in texts:
            for understand in (True, False) if repeat % 2 == 0 else (False, True):
                searcher.understand = understand
                (full if understand else today).append(_timed(searcher.search, text, None, k)[0])
            tokens = tokenize(text)
            ms, fast = _timed(searcher.index.bm25_text.scores, tokens)
            bm25s_ms.append(ms)
            ms, slow = _timed(reference.get_scores, tokens)
            rank_ms.append(ms)
            diff = np.abs(np.asarray(fast, float) - slow)
            max_abs = max(max_abs, float(diff.max()))
            max_rel = max(max_rel, float((diff / np.maximum(np.abs(slow), 1e-9)).max()))
    searcher.understand = True
    med = {
        name: float(np.median(v))
        for name, v in (
            ("search", full),
            ("search_without_resolver", today),
            ("bm25s", bm25s_ms),
            ("rank_bm25", rank_ms),
        )
    }
    return {
        "n_objects": len(searcher.index),
        "n_queries": len(texts),
        "repeats": repeats,
        "ranking": "learned" if searcher.ranker is not None else "fallback",
        "load_ms": t_load,
        "rank_bm25_build_ms": t_ref,
        "median_ms": med,
        "p90_ms": {
            "search": float(np.percentile(full, 90)),
            "search_without_resolver": float(np.percentile(today, 90)),
            "bm25s": float(np.percentile(bm25s_ms, 90)),
            "rank_bm25": float(np.percentile(rank_ms, 90)),
        },
        "rank_bm25_over_bm25s": med["rank_bm25"] / med["bm25s"],
        "search_over_rank_bm25": med["search"] / med["rank_bm25"],
        "search_over_without_resolver": med["search"] / med["search_without_resolver"],
        "search_under_20ms": med["search"] < 20.0,
        "bm25_max_abs_diff": max_abs,
        "bm25_max_rel_diff": max_rel,
    }
