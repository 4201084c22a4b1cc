"""PAPERCLIP's own retrieval quantities: pair-level, the own partner only.

The paper scores N image-caption pairs as an N × N matrix whose column j is pair j's caption, and
counts a hit only when a query finds its own partner.  A caption shared by several pairs is then
several identical columns, all tied: here ties count against the query, as in
:mod:`hubbleclip.metrics.ranking` (PAPERCLIP's ``top_k`` breaks them by column order instead), so a
perfect model's pair-level R@1 is the share of images whose caption is unique.  With one unique
caption per image both definitions equal ours.

* :func:`pair_ranks`: image→text and text→image own-partner ranks over the full set (the paper's
  retrieved-fraction curve is image→text over the full set);
* :func:`paper_in_batch_hits`: text→image top-k inside fixed batches of ``batch_size`` pairs in
  the set's order, the last partial batch dropped (the paper's training-time "top-10%" is top-10
  of 100).

Both read scores block by block, without the full matrix.
"""

from __future__ import annotations

import numpy as np

from hubbleclip.metrics.ranking import own_partner_ranks
from hubbleclip.metrics.scores import Scores, as_scores, row_blocks


def pair_ranks(
    scores: Scores | np.ndarray, image_text: np.ndarray, chunk: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """(image→text, text→image) own-partner ranks of the N pairs, 1-based, ties against the query.

    ``scores`` are [images, distinct texts] and ``image_text[i]`` is the text of pair i: the
    pair-level matrix has one column per pair, so text t stands for ``count(t)`` tied columns.
    """
    scores = as_scores(scores)
    image_text = np.asarray(image_text)
    copies = np.bincount(image_text, minlength=scores.shape[1])
    to_text = np.empty(len(image_text), dtype=np.int64)
    for rows, block in row_blocks(scores, chunk):
        to_text[rows] = own_partner_ranks(block, image_text[rows], copies)
    to_image = np.empty(len(image_text), dtype=np.int64)
    # pairs grouped by their text, so one block of texts serves a contiguous run of pairs
    order = np.argsort(image_text, kind="stable")
    bounds = np.searchsorted(image_text[order], np.arange(scores.shape[1] + 1))
    for rows, block in row_blocks(scores.T, chunk):
        pairs = order[bounds[rows.start] : bounds[rows.stop]]
        step = max(len(block), 1)
        for start in range(0, len(pairs), step):
            sub = pairs[start : start + step]
            to_image[sub] = own_partner_ranks(block[image_text[sub] - rows.start], sub)
    return to_text, to_image


def paper_in_batch_hits(
    scores: Scores | np.ndarray, image_text: np.ndarray, batch_size: int = 100, k: int = 10
) -> np.ndarray | None:
    """Per pair of the full batches: does its caption rank its own image in the batch's top k?

    Batches are consecutive ``batch_size`` pairs in the set's order (a validation loader without
    shuffling), the last partial batch dropped; None when there is no full batch.  Chance is
    k / batch_size.
    """
    scores = as_scores(scores)
    n_batches = scores.shape[0] // batch_size
    if n_batches == 0:
        return None
    hits = []
    for b in range(n_batches):
        pairs = np.arange(b * batch_size, (b + 1) * batch_size)
        block = scores.block(pairs, np.asarray(image_text)[pairs]).T  # [pair captions, images]
        hits.append(own_partner_ranks(block, np.arange(batch_size)) <= k)
    return np.concatenate(hits)
