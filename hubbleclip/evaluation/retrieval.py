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
    accuracy_curve,
    chance_hit_rate,
    chance_mean_rank,
    compare_systems,
    first_relevant_ranks,
    fraction_cutoff,
    hits_at_fraction,
    in_batch_hits,
)

DIRECTIONS = ("image_to_text", "text_to_image")
REDUCERS = {"median_rank": "median"}
ALL = "all"
POOLED, SAME_SOURCE = "pooled", "same_source"


@dataclass
class Ranked:
    """One direction of one model on one subset: per-query ranks and in-batch hit rates."""

    ranks: np.ndarray
    type_ranks: np.ndarray  # rank of the best candidate of the query's object type
    in_batch: np.ndarray
    n_candidates: int
    n_correct: np.ndarray  # correct candidates per query (for the analytic chance level)
    n_type_correct: np.ndarray
    candidates: str  # POOLED or SAME_SOURCE


def _both_ways(
    scores: np.ndarray,
    rel: sp.csr_matrix,
    type_rel: sp.csr_matrix,
    image_text: np.ndarray,
    candidates: str,
    cfg: RetrievalConfig,
    seed: int,
) -> dict[str, Ranked]:
    in_i, in_t = in_batch_hits(
        scores,
        rel,
        image_text,
        batch_size=cfg.in_batch_size,
        k=cfg.in_batch_k,
        repeats=cfg.in_batch_repeats,
        seed=seed,
    )
    n_images, n_texts = scores.shape

    def counts(matrix: sp.csr_matrix, axis: int) -> np.ndarray:
        return np.asarray(matrix.sum(axis=axis)).ravel()

    return {
        "image_to_text": Ranked(
            first_relevant_ranks(scores, rel),
            first_relevant_ranks(scores, type_rel),
            in_i,
            n_texts,
            counts(rel, 1),
            counts(type_rel, 1),
            candidates,
        ),
        "text_to_image": Ranked(
            first_relevant_ranks(scores.T, rel.T),
            first_relevant_ranks(scores.T, type_rel.T),
            in_t,
            n_images,
            counts(rel, 0),
            counts(type_rel, 0),
            candidates,
        ),
    }


def rank_subsets(
    scores: np.ndarray, eval_set: EvalSet, cfg: RetrievalConfig, seed: int = 0
) -> dict[str, dict[str, Ranked]]:
    """``{subset: {direction: Ranked}}`` for ``scores`` [images, texts] (cosine similarities, or
    noise for the random baseline): ``all`` pooled, then one same-source subset per source (only
    when there is more than one)."""
    rel, type_rel = eval_set.relevance.tocsr(), eval_set.type_relevance.tocsr()
    out = {ALL: _both_ways(scores, rel, type_rel, eval_set.image_text, POOLED, cfg, seed)}
    names = sorted(set(eval_set.sources.tolist()))
    for name in names if len(names) > 1 else []:
        rows = np.flatnonzero(eval_set.sources == name)
        cols, image_text = np.unique(eval_set.image_text[rows], return_inverse=True)
        out[name] = _both_ways(
            scores[np.ix_(rows, cols)],
            rel[rows][:, cols],
            type_rel[rows][:, cols],
            image_text,
            SAME_SOURCE,
            cfg,
            seed,
        )
    return out


def metric_columns(ranked: Ranked, cfg: RetrievalConfig) -> dict[str, np.ndarray]:
    """Per-query values whose mean (median for ``median_rank``) is each reported metric."""
    ranks = ranked.ranks
    cols = {
        f"acc@{p:g}%": hits_at_fraction(ranks, ranked.n_candidates, p).astype(float) for p in cfg.percents
    }
    cols.update({f"R@{k}": (ranks <= k).astype(float) for k in cfg.ks})
    cols.update({f"type_R@{k}": (ranked.type_ranks <= k).astype(float) for k in cfg.ks})
    cols["median_rank"] = ranks.astype(float)
    cols["mean_rank"] = ranks.astype(float)
    cols[f"in_batch_top{cfg.in_batch_k}"] = ranked.in_batch
    return cols


def chance_levels(ranked: Ranked, cfg: RetrievalConfig) -> dict[str, float]:
    """Expected value of each hit metric and the mean rank under a uniformly random ranking."""
    m, n = ranked.n_correct, ranked.n_candidates
    out = {f"acc@{p:g}%": float(chance_hit_rate(n, m, fraction_cutoff(p, n)).mean()) for p in cfg.percents}
    out.update({f"R@{k}": float(chance_hit_rate(n, m, k).mean()) for k in cfg.ks})
    out.update({f"type_R@{k}": float(chance_hit_rate(n, ranked.n_type_correct, k).mean()) for k in cfg.ks})
    out["mean_rank"] = float(chance_mean_rank(n, m).mean())
    return out


def summarize(
    ranked: dict[str, dict[str, dict[str, Ranked]]],
    cfg: RetrievalConfig,
    boot: BootstrapConfig,
    reference: str | None = None,
) -> tuple[dict, dict]:
    """Bootstrap summaries per model/direction/subset (``ranked[model][subset][direction]``), and
    paired deltas against ``reference``.

    Returns ``(per_model, deltas)``; see ``hubbleclip.evaluation.results`` for the layout.
    """
    percents = np.round(np.arange(0, 100 + 1e-9, cfg.curve_step), 6).tolist()
    per_model: dict = {name: {d: {} for d in DIRECTIONS} for name in ranked}
    deltas: dict = {name: {d: {} for d in DIRECTIONS} for name in ranked if reference and name != reference}
    first = next(iter(ranked.values()))
    for direction in DIRECTIONS:
        for subset in first:
            cols = {name: metric_columns(r[subset][direction], cfg) for name, r in ranked.items()}
            comparison = compare_systems(cols, bootstrap=boot, reducers=REDUCERS, reference=reference)
            for name, r in ranked.items():
                one = r[subset][direction]
                per_model[name][direction][subset] = {
                    "candidates": one.candidates,
                    "n_queries": len(one.ranks),
                    "n_candidates": one.n_candidates,
                    "chance": chance_levels(one, cfg),
                    "metrics": {k: e.to_dict() for k, e in comparison.estimates[name].items()},
                    "curve": {
                        "percent": percents,
                        "accuracy": accuracy_curve(one.ranks, one.n_candidates, percents),
                    },
                }
                if name in deltas:
                    deltas[name][direction][subset] = {
                        k: e.to_dict() for k, e in comparison.differences[name].items()
                    }
    return per_model, deltas
