"""Benchmarks of all-pairs top-k.

``run_auto_benchmark``: the automatic backend (``all_pairs_topk(backend="auto")``) against faiss
called directly with the same factory and nprobe on the same memory-mapped vectors; each run in
its own process, so peak RSS is its own.  Recall@k of both is recounted against exact search on
sampled rows.  ``run_benchmark``: our blocked exact search against scikit-learn's NearestNeighbors
(brute force, measured on a subset in the same run), with an exactness check against a float64
brute-force sort.
"""

from __future__ import annotations

import multiprocessing
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from hubbleclip.similarity.backend import recall_at_k
from hubbleclip.similarity.neighbours import (
    all_pairs_topk,
    load_all_pairs,
    set_nprobe,
    training_sample,
)

GEN_ROWS = 65_536  # vectors generated and written at a time


def _peak_rss_gib() -> float:
    """This process's peak RSS: VmHWM, which exec resets (ru_maxrss keeps a forking parent's)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 2**20  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # kB on Linux


def random_unit_vectors(n: int, dim: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.empty((n, dim), np.float32)
    for s in range(0, n, 10_000):
        block = rng.standard_normal((min(10_000, n - s), dim), dtype=np.float32)
        out[s : s + len(block)] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def clustered_unit_vectors(
    n: int, dim: int, seed: int = 0, centres: int = 1000, spread: tuple[float, float] = (0.6, 1.2)
) -> np.ndarray:
    """A Gaussian mixture on the unit sphere, the main row: ``centres`` kinds of image (fixed, so
    a larger archive holds more images of each kind), each a cloud whose noise norm is drawn from
    ``spread`` (about 0.6 to 0.9 cosine to its centre).  Uniform vectors are the worst case for
    approximate search and unlike real embeddings."""
    rng = np.random.default_rng(seed)
    means = rng.standard_normal((centres, dim), dtype=np.float32)
    means /= np.linalg.norm(means, axis=1, keepdims=True)
    widths = rng.uniform(*spread, centres).astype(np.float32) / np.sqrt(dim)
    out = np.empty((n, dim), np.float32)
    for s in range(0, n, GEN_ROWS):
        m = min(GEN_ROWS, n - s)
        c = rng.integers(0, centres, m)
        block = means[c] + widths[c, None] * rng.standard_normal((m, dim), dtype=np.float32)
        out[s : s + m] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def exact_rows(emb: np.ndarray, rows: np.ndarray, k: int, chunk: int = 50_000) -> np.ndarray:
    """Exact top-k indices [len(rows), k] of ``rows`` (self excluded), database read in chunks."""
    q = np.asarray(emb[rows], np.float32)
    best_vals = np.full((len(rows), 0), -np.inf, np.float32)
    best_idx = np.zeros((len(rows), 0), np.int64)
    for c0 in range(0, emb.shape[0], chunk):
        scores = q @ np.asarray(emb[c0 : c0 + chunk], np.float32).T
        cols = np.arange(c0, c0 + scores.shape[1])
        scores[cols[None, :] == rows[:, None]] = -np.inf
        vals = np.concatenate([best_vals, scores], 1)
        idx = np.concatenate([best_idx, np.broadcast_to(cols, scores.shape)], 1)
        top = np.argpartition(-vals, min(k, vals.shape[1] - 1), axis=1)[:, :k]
        best_vals, best_idx = np.take_along_axis(vals, top, 1), np.take_along_axis(idx, top, 1)
    return best_idx


def _child(target, queue, *args) -> None:
    cpu = time.process_time()
    result = target(*args)
    result["cpu_s"] = round(time.process_time() - cpu, 1)  # all threads: robust to a busy machine
    result["peak_rss_gib"] = round(_peak_rss_gib(), 2)
    queue.put(result)


def _in_child(target, *args) -> dict:
    """``target(*args)`` in a fresh process (its own peak RSS)."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(target, queue, *args))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def _auto_run(path: str, k: int, out: str, rows: np.ndarray) -> dict:
    import faiss  # noqa: F401 - imported before the clock starts, as in _faiss_run
    import torch  # noqa: F401

    emb = np.load(path, mmap_mode="r")
    start = time.perf_counter()
    all_pairs_topk(emb, k, out, backend="auto")
    seconds = time.perf_counter() - start
    idx, _, meta = load_all_pairs(out)
    return {"seconds": round(seconds, 2), "meta": meta, "found": np.asarray(idx[rows], np.int64)}


def _faiss_run(path: str, k: int, factory: str, nprobe: int | None, rows: np.ndarray) -> dict:
    """faiss by hand: the same factory, training sample size and nprobe; every row's top-(k+1),
    its own match dropped, held in memory as a faiss user would."""
    import faiss

    emb = np.load(path, mmap_mode="r")
    start = time.perf_counter()
    index = faiss.index_factory(emb.shape[1], factory, faiss.METRIC_INNER_PRODUCT)
    if not index.is_trained:
        index.train(training_sample(emb, faiss.extract_index_ivf(index).nlist, seed=1))
    index.add(np.ascontiguousarray(emb, np.float32))
    set_nprobe(index, nprobe or 1)
    found = np.empty((emb.shape[0], k + 1), np.int64)
    for r0 in range(0, emb.shape[0], 16_384):
        found[r0 : r0 + 16_384] = index.search(
            np.ascontiguousarray(emb[r0 : r0 + 16_384], np.float32), k + 1
        )[1]
    seconds = time.perf_counter() - start
    mine = found[rows]
    mine = np.stack([r[r != q][:k] for r, q in zip(mine, rows)])
    return {"seconds": round(seconds, 2), "found": mine}


def run_auto_benchmark(
    sizes: list[int],
    dim: int = 256,
    k: int = 100,
    kind: str = "clustered",
    check_rows: int = 1000,
    seed: int = 0,
    workdir: str | None = None,
    log=print,
) -> list[dict]:
    """Per size: the automatic backend and faiss directly on the same vectors: seconds, peak RSS,
    recall@k on ``check_rows`` rows (a seed other than the build's own recall sample)."""
    out = []
    for n in sizes:
        with tempfile.TemporaryDirectory(dir=workdir) as tmp:
            path = str(Path(tmp) / "vectors.npy")
            vecs = (
                clustered_unit_vectors(n, dim, seed)
                if kind == "clustered"
                else random_unit_vectors(n, dim, seed)
            )
            np.save(path, vecs)
            del vecs
            emb = np.load(path, mmap_mode="r")
            rows = np.sort(np.random.default_rng(seed + 1).choice(n, min(check_rows, n), replace=False))
            reference = exact_rows(emb, rows, k)
            ours = _in_child(_auto_run, path, k, str(Path(tmp) / "pairs"), rows)
            meta = ours["meta"]
            factory = meta["factory"] or "Flat"
            log(
                f"N={n:>9,} {kind}: auto {meta['backend']} {factory} nprobe {meta['nprobe']}: "
                f"{ours['seconds']} s ({ours['cpu_s']} s CPU), {ours['peak_rss_gib']} GiB, "
                f"recorded recall@{k} {meta['recall_at_k']}; now faiss directly"
            )
            direct = _in_child(_faiss_run, path, k, factory, meta["nprobe"], rows)
        row = {
            "n": n,
            "dim": dim,
            "k": k,
            "vectors": kind,
            "backend": meta["backend"],
            "factory": factory,
            "nprobe": meta["nprobe"],
            "auto_s": ours["seconds"],
            "auto_cpu_s": ours["cpu_s"],
            "auto_peak_rss_gib": ours["peak_rss_gib"],
            "auto_recall": round(recall_at_k(ours["found"], reference), 4),
            "auto_recall_recorded": meta["recall_at_k"],
            "faiss_s": direct["seconds"],
            "faiss_cpu_s": direct["cpu_s"],
            "faiss_peak_rss_gib": direct["peak_rss_gib"],
            "faiss_recall": round(recall_at_k(direct["found"], reference), 4),
        }
        row["ratio_auto_to_faiss"] = round(row["auto_s"] / max(row["faiss_s"], 1e-9), 2)
        log(
            f"N={n:>9,} {kind}: auto {row['backend']} {factory} nprobe {row['nprobe']}: "
            f"{row['auto_s']} s ({row['auto_cpu_s']} s CPU), {row['auto_peak_rss_gib']} GiB, "
            f"recall@{k} {row['auto_recall']} (recorded {row['auto_recall_recorded']}) | "
            f"faiss directly {row['faiss_s']} s ({row['faiss_cpu_s']} s CPU), "
            f"{row['faiss_peak_rss_gib']} GiB, recall@{k} {row['faiss_recall']} | "
            f"ratio {row['ratio_auto_to_faiss']}"
        )
        out.append(row)
    return out


def brute_force_rows(emb: np.ndarray, rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Float64 top-k of the given rows (self excluded), ordered by (-score, index)."""
    scores = emb[rows].astype(np.float64) @ emb.astype(np.float64).T
    scores[np.arange(len(rows)), rows] = -np.inf
    idx = np.stack([np.lexsort((np.arange(emb.shape[0]), -s))[:k] for s in scores])
    return np.take_along_axis(scores, idx, 1), idx


def compare(ours_idx, ours_vals, ref_idx, ref_vals, tol: float = 1e-6) -> dict:
    """Rows identical to brute force, and whether every difference is a swap of near-equal scores."""
    same = (np.asarray(ours_idx) == ref_idx).all(1)
    diff_pos = np.asarray(ours_idx) != ref_idx
    # a position may differ only where the reference's neighbouring scores are within float32 rounding
    near_tie = np.zeros_like(diff_pos)
    gaps = np.abs(np.diff(ref_vals, axis=1)) < tol
    near_tie[:, 1:] |= gaps
    near_tie[:, :-1] |= gaps
    return {
        "rows": len(same),
        "identical_rows": int(same.sum()),
        "differing_positions": int(diff_pos.sum()),
        "all_differences_near_ties": bool((~diff_pos | near_tie).all()),
        "max_score_error": float(np.abs(np.asarray(ours_vals, np.float64) - ref_vals).max()),
    }


def run_benchmark(
    n: int = 100_000,
    dim: int = 512,
    k: int = 1000,
    subset: int = 20_000,
    check_rows: int = 200,
    seed: int = 0,
    workdir: str | None = None,
    log=print,
) -> dict:
    from sklearn.neighbors import NearestNeighbors

    emb = random_unit_vectors(n, dim, seed)
    result: dict = {"n": n, "dim": dim, "k": k, "subset": subset}
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        start = time.perf_counter()
        all_pairs_topk(emb, k, Path(tmp) / "full")
        result["ours_full_s"] = round(time.perf_counter() - start, 3)
        result["ours_full_peak_rss_gib"] = round(_peak_rss_gib(), 2)
        log(
            f"ours: all-pairs top-{k} of {n} x {dim}: {result['ours_full_s']} s, "
            f"peak RSS {result['ours_full_peak_rss_gib']} GiB"
        )
        idx, vals, _ = load_all_pairs(Path(tmp) / "full")
        rows = np.random.default_rng(seed).choice(n, size=min(check_rows, n), replace=False)
        ref_vals, ref_idx = brute_force_rows(emb, rows, k)
        result["exactness_full"] = compare(idx[rows], vals[rows], ref_idx, ref_vals)
        log(f"exactness vs float64 brute force on {len(rows)} rows: {result['exactness_full']}")

        sub = emb[:subset]
        start = time.perf_counter()
        all_pairs_topk(sub, k, Path(tmp) / "subset")
        result["ours_subset_s"] = round(time.perf_counter() - start, 3)
        s_idx, s_vals, _ = load_all_pairs(Path(tmp) / "subset")
        start = time.perf_counter()
        dist, nn_idx = (
            NearestNeighbors(n_neighbors=k + 1, algorithm="brute", metric="euclidean")
            .fit(sub)
            .kneighbors(sub)
        )
        result["sklearn_subset_s"] = round(time.perf_counter() - start, 3)
        # drop each row's self match; cosine = 1 - d^2 / 2 for unit vectors
        keep = nn_idx != np.arange(subset)[:, None]
        keep[keep.all(1), -1] = False
        nn_idx = nn_idx[keep].reshape(subset, k)
        result["sklearn_agreement_rows"] = float((nn_idx == np.asarray(s_idx)).all(1).mean())
        rows = rows[rows < subset] if (rows < subset).sum() >= 20 else np.arange(min(check_rows, subset))
        ref_vals, ref_idx = brute_force_rows(sub, rows, k)
        result["exactness_subset_ours"] = compare(s_idx[rows], s_vals[rows], ref_idx, ref_vals)
        sk_vals = 1 - dist[keep].reshape(subset, k)[rows] ** 2 / 2
        result["exactness_subset_sklearn"] = compare(nn_idx[rows], sk_vals, ref_idx, ref_vals)
        result["speedup_vs_sklearn_subset"] = round(
            result["sklearn_subset_s"] / max(result["ours_subset_s"], 1e-9), 2
        )
        log(
            f"subset {subset}: ours {result['ours_subset_s']} s, "
            f"sklearn NearestNeighbors {result['sklearn_subset_s']} s "
            f"(ratio sklearn/ours {result['speedup_vs_sklearn_subset']}); rows identical to sklearn: "
            f"{result['sklearn_agreement_rows']:.4f}; vs float64 brute force: ours "
            f"{result['exactness_subset_ours']}, sklearn {result['exactness_subset_sklearn']}"
        )
    result["target_met"] = result["ours_full_s"] < 600 and result["ours_full_peak_rss_gib"] < 4
    return result
