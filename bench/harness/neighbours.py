"""Benchmark of all-pairs top-k: our blocked exact search against scikit-learn's NearestNeighbors
(brute force, measured on a subset in the same run), with an exactness check against a float64
brute-force sort."""

from __future__ import annotations

import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from hubbleclip.similarity.neighbours import all_pairs_topk, load_all_pairs


def _peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # kB on Linux


def random_unit_vectors(n: int, dim: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.empty((n, dim), np.float32)
    for s in range(0, n, 10_000):
        block = rng.standard_normal((min(10_000, n - s), dim), dtype=np.float32)
        out[s : s + len(block)] = block / np.linalg.norm(block, axis=1, keepdims=True)
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
