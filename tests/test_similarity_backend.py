"""The automatic neighbour backend: the plan from size and memory, recall@k against exact, and the
proprietary filter with an approximate index, on small clustered vectors."""

import json

import numpy as np
import pytest

from hubbleclip.errors import UserError
from hubbleclip.similarity.backend import NeighbourBuild, choose_plan, recall_at_k, resolve_plan
from hubbleclip.similarity.config import NeighboursSection, SimilarityIndexConfig
from hubbleclip.similarity.index import build_similarity_index, plan_neighbours
from hubbleclip.similarity.neighbours import all_pairs_topk, build_faiss_index, faiss_topk, load_all_pairs


def clustered(n: int, dim: int = 32, centres: int = 40, spread: float = 0.5, seed: int = 0) -> np.ndarray:
    """A Gaussian mixture on the unit sphere: images of a few kinds, each kind a cloud."""
    rng = np.random.default_rng(seed)
    means = rng.standard_normal((centres, dim))
    means /= np.linalg.norm(means, axis=1, keepdims=True)
    x = means[rng.integers(0, centres, n)] + spread / np.sqrt(dim) * rng.standard_normal((n, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def brute_force_idx(emb: np.ndarray, k: int) -> np.ndarray:
    scores = emb.astype(np.float64) @ emb.astype(np.float64).T
    np.fill_diagonal(scores, -np.inf)
    return np.argsort(-scores, axis=1, kind="stable")[:, :k]


def test_plan_follows_size_and_memory():
    assert choose_plan(2_777, 256).backend == "exact"  # the demo's index
    assert choose_plan(1_000_000, 256, memory_gb=4).factory == "IVF4000,Flat"
    assert choose_plan(100_000, 256).factory == "IVF1265,Flat"
    # 1M x 256 float32 is 1.03 GB with ids: over 0.5 GB, so 64-byte codes (72 MB)
    assert choose_plan(1_000_000, 256, memory_gb=0.5).factory == "IVF4000,PQ64"
    assert choose_plan(1_000_000, 256, memory_gb=0.05).factory == "IVF4000,PQ32"
    with pytest.raises(UserError, match="memory_gb"):
        choose_plan(1_000_000, 256, memory_gb=0.001)
    assert resolve_plan("exact", "", 10**6, 256).backend == "exact"
    assert resolve_plan("faiss", "HNSW32", 100, 8).factory == "HNSW32"
    assert resolve_plan("faiss", "", 3_000, 32).factory == "IVF76,Flat"  # 3000 // 39 lists at most
    with pytest.raises(UserError, match="annoy"):
        resolve_plan("annoy", "", 10, 8)


def test_recall_at_k_counts_shared_indices():
    exact = np.array([[1, 2, 3, 4], [5, 6, -1, -1]])
    found = np.array([[4, 3, 9, 1], [6, 7, 8, 5]])
    assert recall_at_k(found, exact) == pytest.approx((3 / 4 + 2 / 2) / 2)


def test_auto_is_exact_for_small_n_and_equals_the_exact_backend(tmp_path):
    emb = clustered(600)
    auto = all_pairs_topk(emb, 25, tmp_path / "auto", block_rows=64)
    exact = all_pairs_topk(emb, 25, tmp_path / "exact", backend="exact", block_rows=64)
    a_idx, a_vals, meta = load_all_pairs(auto)
    e_idx, e_vals, _ = load_all_pairs(exact)
    np.testing.assert_array_equal(np.asarray(a_idx), np.asarray(e_idx))
    np.testing.assert_array_equal(np.asarray(a_vals), np.asarray(e_vals))
    assert meta["backend"] == "exact" and meta["recall_at_k"] == 1.0 and meta["recall_queries"] == 0
    np.testing.assert_array_equal(np.asarray(a_idx), brute_force_idx(emb, 25))


def test_forced_approximate_backend_reaches_recall_and_records_it(tmp_path):
    emb = clustered(3_000)
    out = all_pairs_topk(emb, 50, tmp_path / "ivf", exact_max=0, recall_queries=500)
    idx, vals, meta = load_all_pairs(out)
    assert meta["backend"] == "faiss" and meta["factory"] == "IVF76,Flat" and meta["nprobe"] >= 1
    assert meta["recall_queries"] == 500 and meta["recall_at_k"] >= 0.95
    # the recorded recall is what the table holds: recount it on every row against brute force
    assert recall_at_k(np.asarray(idx), brute_force_idx(emb, 50)) == pytest.approx(
        meta["recall_at_k"], abs=0.01
    )
    assert (np.asarray(idx) != np.arange(3_000)[:, None]).all()  # nobody is their own neighbour
    assert (np.diff(np.asarray(vals), axis=1) <= 0).all()
    assert NeighbourBuild.from_dict(meta).describe().startswith("neighbours: faiss IVF76,Flat, nprobe")


def test_auto_gives_way_to_exact_when_ivf_cannot_reach_recall(tmp_path):
    # uniform vectors, the worst case: 16 of 76 lists hold few of a row's true neighbours
    rng = np.random.default_rng(3)
    emb = rng.standard_normal((3_000, 64)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    out = all_pairs_topk(emb, 10, tmp_path / "uniform", exact_max=0, recall_queries=100)
    idx, _, meta = load_all_pairs(out)
    assert meta["backend"] == "exact" and meta["recall_at_k"] == 1.0
    assert "IVF76,Flat reached recall@10" in meta["reason"] and "exact search is as cheap" in meta["reason"]
    np.testing.assert_array_equal(np.asarray(idx), brute_force_idx(emb, 10))


def test_private_rows_are_never_neighbours_with_the_approximate_backend(tmp_path):
    emb = clustered(2_000, seed=1)
    visible = np.random.default_rng(2).random(2_000) < 0.7
    rows = np.flatnonzero(visible)
    # the anonymous build: only public rows go into the index (what `similarity pairs` does)
    out = all_pairs_topk(emb[rows], 30, tmp_path / "public", backend="faiss", row_ids=rows)
    idx, _, meta = load_all_pairs(out)
    assert meta["backend"] == "faiss" and meta["rows"] == "rows.npy"
    np.testing.assert_array_equal(np.load(out / "rows.npy"), rows)
    assert visible[np.asarray(idx)].all()
    # an index over every row, searched with an ID selector, never returns a hidden row either
    index = build_faiss_index(emb, "IVF40,Flat", nprobe=40)
    _, found = faiss_topk(emb[:200], emb, 30, index=index, visible=visible, exclude=np.arange(200)[:, None])
    assert (found >= 0).all() and visible[found].all()
    _, unfiltered = faiss_topk(emb[:200], emb, 30, index=index)
    assert not visible[unfiltered].all()  # the data has hidden rows close to the queries


def test_plan_neighbours_records_the_build(tiny_skyset, tmp_path):
    emb = clustered(1_500)
    build = plan_neighbours(emb, NeighboursSection(backend="faiss", k=20, recall_queries=300))
    assert build.backend == "faiss" and build.recall_queries == 300 and build.recall_at_k >= 0.95
    assert plan_neighbours(emb, NeighboursSection()).to_dict()["recall_at_k"] == 1.0
    cfg = SimilarityIndexConfig(dataset=tiny_skyset, encoder="imagenet", out=str(tmp_path / "index"))
    index = build_similarity_index(cfg)
    meta = json.loads((tmp_path / "index" / "meta.json").read_text())
    assert meta["neighbours"]["backend"] == "exact" and meta["neighbours"]["recall_at_k"] == 1.0
    assert index.neighbour_build().k == min(100, len(index.items) - 1)
