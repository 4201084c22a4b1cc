"""The one cache of values built per visibility mask (restricted name tables, BM25 statistics)."""

import threading

import numpy as np

from hubbleclip.access.cache import MaskKeyedCache


def test_one_value_per_mask_oldest_dropped_first():
    built = []

    def build(visible):
        built.append(visible.copy())
        return int(visible.sum())

    cache = MaskKeyedCache(build, keep=2)
    a, b, c = (np.array(m, bool) for m in ([1, 0, 1], [1, 1, 1], [0, 0, 1]))
    assert cache.get(a) == 2 and cache.get(a.copy()) == 2 and len(built) == 1  # equal masks share
    assert cache.get(b) == 3 and cache.get(c) == 1 and len(cache) == 2
    cache.get(a)  # dropped when c came: built again
    assert len(built) == 4
    # a mask and a longer one with the same packed bytes are different masks
    assert MaskKeyedCache.key(np.array([1, 0], bool)) != MaskKeyedCache.key(np.array([1, 0, 0], bool))


def test_threads_asking_at_once_build_once():
    calls = []
    cache = MaskKeyedCache(lambda visible: calls.append(1) or len(calls))
    mask = np.ones(1000, bool)
    threads = [threading.Thread(target=cache.get, args=(mask,)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == [1] and cache.get(mask) == 1
