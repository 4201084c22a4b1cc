"""The retrieval suite: image→text and text→image ranks, per-query metric columns, summaries.

Two kinds of subset, named by ``candidates`` in ``results.json``:

* ``all`` is pooled: every query ranks every candidate of the split;
* each source (``stellarium``, ``first``, ...) is same-source: its queries rank only candidates of
  that source, so a Stellarium caption never gets credit for beating FIRST images it could tell
  apart by colour alone.

Besides the caption-level ranks (the own caption or one of the same object), ``type_R@k`` counts a
hit when a candidate of the query's object type ranks within k: the class-level question a caption
can answer from an image, where a unique name or NGC number cannot be learned.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from hubbleclip.evaluation.config import RetrievalConfig
from hubbleclip.evaluation.evalset import EvalSet
from hubbleclip.metrics import (
    BootstrapConfig,
    InBatchHits,
    Scores,
    accuracy_curve,
    as_scores,
    chance_hit_rate,
    chance_mean_rank,
    compare_systems,
    cutoff_reason,
    fraction_cutoff,
    hits_at_fraction,
    in_batch_hits,
    own_partner_ranks,
    paper_in_batch_hits,
    relevant_ranks,
    row_blocks,
)

DIRECTIONS = ("image_to_text", "text_to_image")
REDUCERS = {"median_rank": "median"}
ALL = "all"
POOLED, SAME_SOURCE = "pooled", "same_source"


@dataclass
class Ranked:
    """One direction of one model on one subset: per-query ranks and in-batch hit rates (ours), and
    the paper's pair-level ranks."""

    ranks: np.ndarray
    type_ranks: np.ndarray  # rank of the best candidate of the query's object type
    in_batch: np.ndarray | None  # per query; None below one full batch
    in_batch_chance: np.ndarray | None
    n_candidates: int
    n_correct: np.ndarray  # correct candidates per query (for the analytic chance level)
    n_type_correct: np.ndarray
    candidates: str  # POOLED or SAME_SOURCE
    pair_ranks: np.ndarray  # per pair: rank of the own partner among all N pairs' partners
    paper_in_batch: np.ndarray | None = None  # text→image only: per pair of the full batches

    @property
    def n_pairs(self) -> int:
        return len(self.pair_ranks)


def _counts(matrix: sp.csr_matrix, axis: int) -> np.ndarray:
    return np.asarray(matrix.sum(axis=axis)).ravel()


def _image_pass(scores: Scores, rel, type_rel, image_text, chunk: int):
    """Image queries against every text, one block at a time: ours and the pair-level ranks."""
    n = scores.shape[0]
    ranks, type_ranks, pairs = (np.empty(n, dtype=np.int64) for _ in range(3))
    copies = np.bincount(image_text, minlength=scores.shape[1])
    for rows, block in row_blocks(scores, chunk):
        ranks[rows] = relevant_ranks(block, rel[rows], rows.start)
        type_ranks[rows] = relevant_ranks(block, type_rel[rows], rows.start)
        pairs[rows] = own_partner_ranks(block, image_text[rows], copies)
    return ranks, type_ranks, pairs


def _text_pass(scores: Scores, rel_t, type_rel_t, image_text, chunk: int):
    """Text queries against every image: ours, and each pair's caption ranking its own image."""
    n_texts, n_images = scores.T.shape
    ranks, type_ranks = np.empty(n_texts, dtype=np.int64), np.empty(n_texts, dtype=np.int64)
    pairs = np.empty(n_images, dtype=np.int64)
    order = np.argsort(image_text, kind="stable")  # pairs grouped by caption: a block serves a run
    bounds = np.searchsorted(image_text[order], np.arange(n_texts + 1))
    for rows, block in row_blocks(scores.T, chunk):
        ranks[rows] = relevant_ranks(block, rel_t[rows], rows.start)
        type_ranks[rows] = relevant_ranks(block, type_rel_t[rows], rows.start)
        run = order[bounds[rows.start] : bounds[rows.stop]]
        for start in range(0, len(run), len(block)):
            sub = run[start : start + len(block)]
            pairs[sub] = own_partner_ranks(block[image_text[sub] - rows.start], sub)
    return ranks, type_ranks, pairs


def _both_ways(
    scores: Scores,
    rel: sp.csr_matrix,
    type_rel: sp.csr_matrix,
    image_text: np.ndarray,
    candidates: str,
    cfg: RetrievalConfig,
    seed: int,
) -> dict[str, Ranked]:
    hits: InBatchHits | None = in_batch_hits(
        scores,
        rel,
        image_text,
        batch_size=cfg.in_batch_size,
        k=cfg.in_batch_k,
        repeats=cfg.in_batch_repeats,
        seed=seed,
    )
    n_images, n_texts = scores.shape
    i_ranks, i_type, i_pairs = _image_pass(scores, rel, type_rel, image_text, cfg.chunk_size)
    t_ranks, t_type, t_pairs = _text_pass(
        scores, rel.T.tocsr(), type_rel.T.tocsr(), image_text, cfg.chunk_size
    )
    return {
        "image_to_text": Ranked(
            i_ranks,
            i_type,
            None if hits is None else hits.image_hits,
            None if hits is None else hits.image_chance,
            n_texts,
            _counts(rel, 1),
            _counts(type_rel, 1),
            candidates,
            i_pairs,
        ),
        "text_to_image": Ranked(
            t_ranks,
            t_type,
            None if hits is None else hits.text_hits,
            None if hits is None else hits.text_chance,
            n_images,
            _counts(rel, 0),
            _counts(type_rel, 0),
            candidates,
            t_pairs,
            paper_in_batch_hits(scores, image_text, cfg.in_batch_size, cfg.in_batch_k),
        ),
    }


def rank_subsets(
    scores: Scores | np.ndarray, eval_set: EvalSet, cfg: RetrievalConfig, seed: int = 0
) -> dict[str, dict[str, Ranked]]:
    """``{subset: {direction: Ranked}}`` for ``scores`` [images, texts] (``EmbeddingScores`` of a
    model, or a matrix: cosine similarities, or noise for the random baseline): ``all`` pooled, then
    one same-source subset per source (only when there is more than one).

    Scores are read ``cfg.chunk_size`` queries at a time, so embeddings never become the full
    matrix; the result does not depend on the chunk size."""
    scores = as_scores(scores)
    rel, type_rel = eval_set.relevance.tocsr(), eval_set.type_relevance.tocsr()
    out = {ALL: _both_ways(scores, rel, type_rel, eval_set.image_text, POOLED, cfg, seed)}
    names = sorted(set(eval_set.sources.tolist()))
    for name in names if len(names) > 1 else []:
        rows = np.flatnonzero(eval_set.sources == name)
        cols, image_text = np.unique(eval_set.image_text[rows], return_inverse=True)
        out[name] = _both_ways(
            scores.subset(rows, cols),
            rel[rows][:, cols],
            type_rel[rows][:, cols],
            image_text,
            SAME_SOURCE,
            cfg,
            seed,
        )
    return out


def _in_batch_key(cfg: RetrievalConfig) -> str:
    return f"in_batch_top{cfg.in_batch_k}"


def not_applicable(ranked: Ranked, cfg: RetrievalConfig) -> dict[str, str]:
    """Our metrics that are not defined on this subset, each with the reason."""
    out = {f"acc@{p:g}%": reason for p in cfg.percents if (reason := cutoff_reason(p, ranked.n_candidates))}
    if ranked.in_batch is None:
        out[_in_batch_key(cfg)] = f"only {ranked.n_pairs} images, fewer than {cfg.in_batch_size}"
    return out


def _rank_columns(ranks: np.ndarray, n_candidates: int, cfg: RetrievalConfig) -> dict[str, np.ndarray]:
    cols = {
        f"acc@{p:g}%": hits_at_fraction(ranks, n_candidates, p).astype(float)
        for p in cfg.percents
        if fraction_cutoff(p, n_candidates) > 0
    }
    cols.update({f"R@{k}": (ranks <= k).astype(float) for k in cfg.ks})
    return cols


def metric_columns(ranked: Ranked, cfg: RetrievalConfig) -> dict[str, np.ndarray]:
    """Per-query values whose mean (median for ``median_rank``) is each of our metrics; metrics
    that are not defined here (:func:`not_applicable`) have no column."""
    ranks = ranked.ranks
    cols = _rank_columns(ranks, ranked.n_candidates, cfg)
    cols.update({f"type_R@{k}": (ranked.type_ranks <= k).astype(float) for k in cfg.ks})
    cols["median_rank"] = ranks.astype(float)
    cols["mean_rank"] = ranks.astype(float)
    if ranked.in_batch is not None:
        cols[_in_batch_key(cfg)] = ranked.in_batch
    return cols


def chance_levels(ranked: Ranked, cfg: RetrievalConfig) -> dict[str, float]:
    """Expected value of each hit metric and the mean rank under a uniformly random ranking."""
    m, n = ranked.n_correct, ranked.n_candidates
    out = {
        f"acc@{p:g}%": float(chance_hit_rate(n, m, fraction_cutoff(p, n)).mean())
        for p in cfg.percents
        if fraction_cutoff(p, n) > 0
    }
    out.update({f"R@{k}": float(chance_hit_rate(n, m, k).mean()) for k in cfg.ks})
    out.update({f"type_R@{k}": float(chance_hit_rate(n, ranked.n_type_correct, k).mean()) for k in cfg.ks})
    out["mean_rank"] = float(chance_mean_rank(n, m).mean())
    if ranked.in_batch_chance is not None:
        out[_in_batch_key(cfg)] = float(ranked.in_batch_chance.mean())
    return out


def paper_columns(ranked: Ranked, cfg: RetrievalConfig) -> dict[str, np.ndarray]:
    """Per-pair values of the paper's full-set pair-level metrics (own partner only, N pairs)."""
    ranks = ranked.pair_ranks
    cols = _rank_columns(ranks, ranked.n_pairs, cfg)
    cols["median_rank"] = ranks.astype(float)
    cols["mean_rank"] = ranks.astype(float)
    return cols


def paper_chance(ranked: Ranked, cfg: RetrievalConfig) -> dict[str, float]:
    n = ranked.n_pairs
    one = np.ones(1)
    out = {
        f"acc@{p:g}%": float(chance_hit_rate(n, one, fraction_cutoff(p, n))[0])
        for p in cfg.percents
        if fraction_cutoff(p, n) > 0
    }
    out.update({f"R@{k}": float(chance_hit_rate(n, one, k)[0]) for k in cfg.ks})
    out["mean_rank"] = (n + 1) / 2
    if ranked.paper_in_batch is not None:
        out[_in_batch_key(cfg)] = min(cfg.in_batch_k, cfg.in_batch_size) / cfg.in_batch_size
    return out


def paper_not_applicable(ranked: Ranked, cfg: RetrievalConfig, direction: str) -> dict[str, str]:
    out = {f"acc@{p:g}%": reason for p in cfg.percents if (reason := cutoff_reason(p, ranked.n_pairs))}
    if direction == "text_to_image" and ranked.paper_in_batch is None:
        out[_in_batch_key(cfg)] = f"only {ranked.n_pairs} pairs, fewer than {cfg.in_batch_size}"
    return out


def _estimates(columns: dict[str, dict[str, np.ndarray]], boot: BootstrapConfig, reference: str | None):
    """compare_systems over ``columns[model]``; (estimates, differences) as dicts of plain dicts."""
    if not any(columns.values()):
        return {name: {} for name in columns}, {}
    comparison = compare_systems(columns, bootstrap=boot, reducers=REDUCERS, reference=reference)
    plain = {n: {k: e.to_dict() for k, e in per.items()} for n, per in comparison.estimates.items()}
    diffs = {n: {k: e.to_dict() for k, e in per.items()} for n, per in comparison.differences.items()}
    return plain, diffs


def _paper_block(
    ranked: dict[str, Ranked], direction: str, cfg: RetrievalConfig, boot: BootstrapConfig, reference
):
    """Per model the paper's block of one direction/subset, and its paired differences."""
    first = next(iter(ranked.values()))
    metrics, diffs = _estimates({n: paper_columns(r, cfg) for n, r in ranked.items()}, boot, reference)
    if direction == "text_to_image" and first.paper_in_batch is not None:
        key = _in_batch_key(cfg)
        batch, batch_diffs = _estimates(
            {n: {key: r.paper_in_batch} for n, r in ranked.items()}, boot, reference
        )
        for name in metrics:
            metrics[name].update(batch[name])
        for name in diffs:
            diffs[name].update(batch_diffs[name])
    percents = _curve_percents(cfg)
    blocks = {
        name: {
            "candidates": r.candidates,
            "n_queries": r.n_pairs,
            "n_candidates": r.n_pairs,
            "chance": paper_chance(r, cfg),
            "metrics": metrics[name],
            "not_applicable": paper_not_applicable(r, cfg, direction),
            "curve": {"percent": percents, "accuracy": accuracy_curve(r.pair_ranks, r.n_pairs, percents)},
        }
        for name, r in ranked.items()
    }
    return blocks, diffs


def _curve_percents(cfg: RetrievalConfig) -> list[float]:
    return np.round(np.arange(0, 100 + 1e-9, cfg.curve_step), 6).tolist()


def summarize(
    ranked: dict[str, dict[str, dict[str, Ranked]]],
    cfg: RetrievalConfig,
    boot: BootstrapConfig,
    reference: str | None = None,
) -> tuple[dict, dict, dict]:
    """Bootstrap summaries per model/direction/subset (``ranked[model][subset][direction]``), and
    paired deltas against ``reference``, of ours and of the paper's metrics.

    Returns ``(per_model, deltas, paper_deltas)``; see ``hubbleclip.evaluation.results`` for the
    layout.
    """
    percents = _curve_percents(cfg)
    per_model: dict = {name: {d: {} for d in DIRECTIONS} for name in ranked}
    others = [name for name in ranked if reference and name != reference]
    deltas: dict = {name: {d: {} for d in DIRECTIONS} for name in others}
    paper_deltas: dict = {name: {d: {} for d in DIRECTIONS} for name in others}
    first = next(iter(ranked.values()))
    for direction in DIRECTIONS:
        for subset in first:
            one_each = {name: r[subset][direction] for name, r in ranked.items()}
            metrics, diffs = _estimates(
                {name: metric_columns(one, cfg) for name, one in one_each.items()}, boot, reference
            )
            paper, paper_diffs = _paper_block(one_each, direction, cfg, boot, reference)
            for name, one in one_each.items():
                per_model[name][direction][subset] = {
                    "candidates": one.candidates,
                    "n_queries": len(one.ranks),
                    "n_candidates": one.n_candidates,
                    "chance": chance_levels(one, cfg),
                    "metrics": metrics[name],
                    "not_applicable": not_applicable(one, cfg),
                    "curve": {
                        "percent": percents,
                        "accuracy": accuracy_curve(one.ranks, one.n_candidates, percents),
                    },
                    "paper": paper[name],
                }
                if name in deltas:
                    deltas[name][direction][subset] = diffs[name]
                    paper_deltas[name][direction][subset] = paper_diffs[name]
    return per_model, deltas, paper_deltas
