"""Exact blocked top-k and all-pairs streaming against brute force on random data."""

import numpy as np
import pytest

from hubbleclip.similarity.neighbours import Restriction, all_pairs_topk, exact_topk, load_all_pairs, topk


def brute_force(queries, database, k, exclude=None, allowed_mask=None):
    """Full similarity matrix, ordered by (-score, index), in float64."""
    scores = queries.astype(np.float64) @ database.astype(np.float64).T
    if exclude is not None:
        for q, cols in enumerate(exclude):
            scores[q, cols[cols >= 0]] = -np.inf
    if allowed_mask is not None:
        scores[~allowed_mask] = -np.inf
    cols = np.arange(database.shape[0])
    idx = np.stack([np.lexsort((cols, -row))[:k] for row in scores])
    vals = np.take_along_axis(scores, idx, 1)
    idx[~np.isfinite(vals)] = -1
    return vals, idx


def normalised(rng, n, d):
    x = rng.standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.mark.parametrize("block_rows,block_bytes", [(7, 4 * 7 * 13), (64, 2**20)])
def test_exact_topk_matches_brute_force(block_rows, block_bytes):
    rng = np.random.default_rng(0)
    db, q = normalised(rng, 301, 16), normalised(rng, 23, 16)
    vals, idx = exact_topk(q, db, 10, block_rows=block_rows, block_bytes=block_bytes)
    ref_vals, ref_idx = brute_force(q, db, 10)
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_allclose(vals, ref_vals, atol=1e-5)


def test_ties_are_broken_by_index_across_blocks():
    # small integer vectors: every inner product is exact, so many scores tie exactly
    rng = np.random.default_rng(1)
    db = rng.integers(-1, 2, size=(200, 4)).astype(np.float32)
    q = rng.integers(-1, 2, size=(31, 4)).astype(np.float32)
    ref_vals, ref_idx = brute_force(q, db, 25)
    assert (np.diff(ref_vals, axis=1) == 0).sum() > 100  # the data really has ties
    for block_rows, block_bytes in [(5, 4 * 5 * 30), (31, 4 * 31 * 200)]:
        vals, idx = exact_topk(q, db, 25, block_rows=block_rows, block_bytes=block_bytes)
        np.testing.assert_array_equal(idx, ref_idx)
        np.testing.assert_array_equal(vals, ref_vals)


def test_exclusion_restriction_and_padding():
    rng = np.random.default_rng(2)
    db, q = normalised(rng, 50, 8), normalised(rng, 6, 8)
    exclude = np.array([[0, 1, -1]] * 6)
    groups = np.arange(50) % 3
    allowed = np.array([[1, 0, 0], [0, 1, 1], [0, 1, 1]], bool)
    q_groups = np.array([0, 1, 2, 0, 1, 2])
    vals, idx = exact_topk(
        q,
        db,
        20,
        exclude=exclude,
        query_groups=q_groups,
        restriction=Restriction(groups, allowed),
        block_rows=4,
        block_bytes=4 * 4 * 21,
    )
    _ref_vals, ref_idx = brute_force(q, db, 20, exclude, allowed[q_groups][:, groups])
    np.testing.assert_array_equal(idx, ref_idx)
    # group 0 has 17 members minus the excluded index 0: 16 matches, then padding
    assert (idx[0, 16:] == -1).all() and np.isneginf(vals[0, 16:]).all()
    assert set(groups[idx[0, :16]]) == {0} and 0 not in idx[0] and 1 not in idx[1]


def test_faiss_flat_agrees_with_exact():
    rng = np.random.default_rng(3)
    db = normalised(rng, 400, 32)
    exclude = np.arange(20)[:, None]
    e_vals, e_idx = topk(db[:20], db, 15, exclude=exclude)
    f_vals, f_idx = topk(db[:20], db, 15, backend="faiss", exclude=exclude)
    np.testing.assert_array_equal(f_idx, e_idx)
    np.testing.assert_allclose(f_vals, e_vals, atol=1e-5)
    with pytest.raises(ValueError, match="backend"):
        topk(db, db, 3, backend="annoy")


def test_faiss_with_a_restriction_falls_back_to_exact(caplog):
    rng = np.random.default_rng(5)
    db, q = normalised(rng, 120, 8), normalised(rng, 4, 8)
    restriction = Restriction(np.arange(120) % 2, np.eye(2, dtype=bool))
    groups = np.array([0, 1, 0, 1])
    with caplog.at_level("INFO", logger="hubbleclip.similarity.neighbours"):
        _, f_idx = topk(q, db, 10, backend="faiss", query_groups=groups, restriction=restriction)
    assert "exact search instead of faiss" in caplog.text
    _, e_idx = exact_topk(q, db, 10, query_groups=groups, restriction=restriction)
    np.testing.assert_array_equal(f_idx, e_idx)
    assert ((f_idx % 2) == groups[:, None]).all()


@pytest.mark.parametrize("backend", ["exact", "faiss"])
def test_all_pairs_streams_to_disk(tmp_path, backend):
    rng = np.random.default_rng(4)
    emb = normalised(rng, 157, 12)
    out = all_pairs_topk(
        emb,
        20,
        tmp_path / "pairs",
        backend=backend,
        faiss_factory="Flat",
        block_rows=16,
        block_bytes=4 * 16 * 40,
    )
    idx, vals, meta = load_all_pairs(out)
    assert isinstance(idx, np.memmap) and idx.shape == (157, 20) and meta["k"] == 20
    assert meta["backend"] == backend and meta["recall_at_k"] >= 0.99
    ref_vals, ref_idx = brute_force(emb, emb, 20, exclude=np.arange(157)[:, None])
    np.testing.assert_array_equal(np.asarray(idx), ref_idx)
    np.testing.assert_allclose(np.asarray(vals), ref_vals, atol=1e-5)
    with pytest.raises(FileExistsError):
        all_pairs_topk(emb, 5, out)
