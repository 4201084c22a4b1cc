"""What filtering by access costs at query time, measured against no filtering in the same run.

A copy of the index's access table marks a seeded ``hidden_fraction`` of the objects (and of the
similarity images) as proprietary; then the same text queries, similar-image pages and selection
re-rankings run without a mask, with the anonymous mask, and the first masked query (which builds
the visible set's BM25 fields once) is timed on its own.
"""

from __future__ import annotations

import datetime as dt
import time

import numpy as np

from hubbleclip.access.policy import ANONYMOUS, AccessPolicy, AccessTable, to_day
from hubbleclip.search.queries import load_queries
from hubbleclip.search.searcher import Searcher
from hubbleclip.web.similar import ImageSpace


def _hidden(n: int, fraction: float, seed: int) -> AccessTable:
    rng = np.random.default_rng(seed)
    days = np.full(n, to_day(None), np.int32)
    days[rng.random(n) < fraction] = to_day(dt.date(2100, 1, 1))
    return AccessTable(days, np.zeros(n, np.int32), [""])


def _median_ms(fn, calls) -> float:
    times = []
    for call in calls:
        t0 = time.perf_counter()
        fn(*call)
        times.append((time.perf_counter() - t0) * 1000)
    return float(np.median(times))


def bench_access(
    index_dir: str,
    similarity_dir: str | None = None,
    hidden_fraction: float = 0.1,
    repeats: int = 3,
    seed: int = 0,
) -> dict:
    policy = AccessPolicy()
    searcher = Searcher.open(index_dir)
    index = searcher.index
    index.access = _hidden(len(index), hidden_fraction, seed)
    texts = [q.text for q in load_queries(None)] * repeats
    mask = policy.visible(index.access, ANONYMOUS)
    searcher.search(text=texts[0])  # warm-up (tokenizer, BLAS)
    t0 = time.perf_counter()
    searcher.search(text=texts[0], visible=mask)
    first_masked_ms = (time.perf_counter() - t0) * 1000
    report = {
        "objects": len(index),
        "hidden_objects": int((~mask).sum()),
        "queries": len(texts),
        "text_search_ms": {
            "no_filter": _median_ms(lambda t: searcher.search(text=t), [(t,) for t in texts]),
            "filtered": _median_ms(lambda t: searcher.search(text=t, visible=mask), [(t,) for t in texts]),
            "first_filtered_query": first_masked_ms,
        },
        "mask_ms": _median_ms(lambda d: index.access.mask(ANONYMOUS, d), [(d,) for d in range(200)]),
    }
    ts = report["text_search_ms"]
    ts["ratio"] = ts["filtered"] / ts["no_filter"]
    if similarity_dir:
        space = ImageSpace.from_similarity_index(similarity_dir)
        space.access = _hidden(len(space), hidden_fraction, seed + 1)
        seen = policy.visible(space.access, ANONYMOUS)
        rng = np.random.default_rng(seed)
        public = [space.ids[i] for i in np.flatnonzero(seen)]
        calls = [
            (public[i], [public[j] for j in rng.integers(0, len(public), 2)])
            for i in rng.integers(0, len(public), 60)
        ]
        plain = [(q, [], 0, 24, None) for q, _ in calls]
        masked = [(q, [], 0, 24, seen) for q, _ in calls]
        refine_plain = [(q, s, 0, 24, None) for q, s in calls]
        refine_masked = [(q, s, 0, 24, seen) for q, s in calls]
        sims = {
            "images": len(space),
            "hidden_images": int((~seen).sum()),
            "similar_no_filter": _median_ms(space.similar, plain),
            "similar_filtered": _median_ms(space.similar, masked),
            "refine_no_filter": _median_ms(space.similar, refine_plain),
            "refine_filtered": _median_ms(space.similar, refine_masked),
        }
        sims["similar_ratio"] = sims["similar_filtered"] / sims["similar_no_filter"]
        sims["refine_ratio"] = sims["refine_filtered"] / sims["refine_no_filter"]
        report["similar_ms"] = sims
    return report
