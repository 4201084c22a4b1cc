"""PAPERCLIP's pair-level definitions next to ours, ties in float64, and block-wise scoring."""

import numpy as np
import scipy.sparse as sp

from hubbleclip.metrics import (
    EmbeddingScores,
    MatrixScores,
    cutoff_reason,
    first_relevant_ranks,
    fraction_cutoff,
    own_partner_ranks,
    pair_ranks,
    paper_in_batch_hits,
    relevance_from_keys,
    relevant_ranks,
    row_blocks,
)


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_pair_level_ranks_by_hand():
    # three pairs; images 0 and 1 share caption A (text 0), image 2 has caption B (text 1)
    scores = np.array([[0.9, 0.1], [0.8, 0.95], [0.2, 0.7]])
    image_text = np.array([0, 0, 1])
    to_text, to_image = pair_ranks(scores, image_text)
    # image→text over the pair columns [A, A, B], own column only, the other copy of A ties against:
    # image 0: [0.9, 0.9, 0.1] -> 2;  image 1: [0.8, 0.8, 0.95] -> 3;  image 2: [0.2, 0.2, 0.7] -> 1
    assert to_text.tolist() == [2, 3, 1]
    # text→image, pair j's caption ranks the 3 images, only image j is correct:
    # A: [0.9, 0.8, 0.2] -> pair 0 rank 1, pair 1 rank 2;  B: [0.1, 0.95, 0.7] -> pair 2 rank 2
    assert to_image.tolist() == [1, 2, 2]
    # ours: A is one candidate, correct for images 0 and 1 -> 1, 2, 1 image→text
    ours = first_relevant_ranks(scores, relevance_from_keys([[t] for t in image_text], [[0], [1]]))
    assert ours.tolist() == [1, 2, 1]
    # any chunking gives the same
    for chunk in (1, 2):
        assert [r.tolist() for r in pair_ranks(scores, image_text, chunk)] == [[2, 3, 1], [1, 2, 2]]


def test_own_partner_ranks_by_hand():
    block = np.array([[0.5, 0.7, 0.5, 0.1], [0.3, 0.2, 0.1, 0.0]])
    assert own_partner_ranks(block, np.array([0, 0])).tolist() == [3, 1]  # c1 above, c2 tied
    # column 3 counted twice (a caption of two pairs): row 1's own column 0 has it below
    assert own_partner_ranks(block, np.array([2, 3]), weights=np.array([1, 1, 1, 2])).tolist() == [3, 5]


def test_paper_in_batch_by_hand():
    # 7 pairs in batches of 3: the 7th pair is in no full batch and is dropped
    n = 7
    image_text = np.array([0, 0, 1, 2, 3, 4, 5])  # pairs 0 and 1 share caption 0
    scores = np.zeros((n, 6))
    scores[np.arange(n), image_text] = 1.0
    scores[0, 0], scores[1, 0] = 1.0, 0.5  # caption 0 prefers image 0
    scores[3, 3] = 2.0  # pair 4's caption prefers image 3 (in the same batch [3, 4, 5])
    hits = paper_in_batch_hits(scores, image_text, batch_size=3, k=1)
    # pair 1's caption finds image 0 first (own partner only), pair 4's finds image 3
    assert hits.tolist() == [True, False, True, True, False, True]
    assert paper_in_batch_hits(scores, image_text, batch_size=3, k=2).all()
    assert paper_in_batch_hits(scores, image_text, batch_size=8) is None


def test_first_like_layout_perfect_model_ours_one_pair_level_lower():
    # FIRST-like: 30 images in 3 classes whose caption is the class's (10 each, distinct objects),
    # plus 10 images with unique captions; the model embeds every image exactly as its caption
    rng = np.random.default_rng(0)
    image_text = np.concatenate([np.repeat([0, 1, 2], 10), np.arange(3, 13)])
    texts = _unit(rng.normal(size=(13, 64)))
    images = texts[image_text]
    scores = EmbeddingScores(images, texts)
    relevant = relevance_from_keys([[t] for t in image_text], [[t] for t in range(13)])
    ours_i = np.concatenate([relevant_ranks(b, relevant[r]) for r, b in row_blocks(scores, 4)])
    ours_t = np.concatenate([relevant_ranks(b, relevant.T.tocsr()[r]) for r, b in row_blocks(scores.T, 4)])
    assert (ours_i == 1).mean() == 1.0 and (ours_t == 1).mean() == 1.0
    to_text, to_image = pair_ranks(scores, image_text, chunk=4)
    # a shared caption is 10 tied columns (and its 10 images tie as candidates): only the 10
    # unique-caption pairs find their partner first
    assert (to_text == 1).mean() == 0.25 and (to_image == 1).mean() == 0.25
    assert set(to_text[:30].tolist()) == {10} and set(to_image[:30].tolist()) == {10}


def test_duplicated_float32_embeddings_tie_exactly():
    # a collapsed text tower: 599 captions with one float32 embedding.  Every caption ties with
    # every other, so with ties against the query each image's caption ranks last, 599.  (Here the
    # float64 product of these identical columns differs in the last bit in ~84% of rows, so exact
    # comparison would rank them by rounding noise: the tie tolerance decides.)
    rng = np.random.default_rng(0)
    n, m = 300, 599
    text = _unit(rng.normal(size=(1, 512)))
    images = rng.normal(size=(n, 512)).astype(np.float32)
    scores = EmbeddingScores(images, np.repeat(text, m, axis=0))
    own = rng.integers(0, m, size=n)
    relevant = sp.csr_matrix((np.ones(n, dtype=bool), (np.arange(n), own)), shape=(n, m))
    for chunk in (7, 64, 0):
        ranks = np.concatenate([relevant_ranks(b, relevant[r]) for r, b in row_blocks(scores, chunk)])
        assert (ranks == m).all()
        pairs = np.concatenate([own_partner_ranks(b, own[r]) for r, b in row_blocks(scores, chunk)])
        assert (pairs == m).all()


def test_cutoff_zero_is_not_applicable():
    assert fraction_cutoff(1, 67) == 0 and cutoff_reason(1, 67) == "cut-off 0 of 67"
    assert cutoff_reason(10, 10) is None and cutoff_reason(1, 100) is None


def test_matrix_and_embedding_scores_serve_the_same_blocks():
    rng = np.random.default_rng(2)
    q, c = rng.normal(size=(9, 4)), rng.normal(size=(5, 4))
    emb, mat = EmbeddingScores(q, c), MatrixScores(q @ c.T)
    rows, cols = np.array([1, 3]), np.array([0, 4])
    assert np.allclose(emb.block(rows, cols), mat.block(rows, cols))
    assert np.allclose(emb.T.block(slice(0, 5)), mat.T.block(slice(0, 5)))
    assert np.allclose(emb.subset(rows, cols).block(slice(None)), mat.subset(rows, cols).block(slice(None)))
    assert [r for r, _ in row_blocks(emb, 4)] == [slice(0, 4), slice(4, 8), slice(8, 9)]
