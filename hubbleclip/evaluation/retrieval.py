"""The retrieval suite: image→text and text→image ranks, per-query metric columns, summaries.

Queries are broken down by source (``stellarium``, ``first``, ...) as well as pooled; the
candidates are always the whole split, so the pooled number is the query-weighted mean of the
per-source ones.  The in-batch metric draws its batches from the whole split.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hubbleclip.evaluation.config import BootstrapConfig, RetrievalConfig
from hubbleclip.evaluation.evalset import EvalSet
from hubbleclip.metrics import (
    accuracy_curve,
    bootstrap,
    bootstrap_difference,
    chance_hit_rate,
    chance_mean_rank,
    first_relevant_ranks,
    fraction_cutoff,
    hits_at_fraction,
    in_batch_hits,
    resample_indices,
)

DIRECTIONS = ("image_to_text", "text_to_image")
REDUCERS = {"median_rank": "median"}
ALL = "all"


@dataclass
class Ranked:
    """One direction of one model: per-query ranks and in-batch hit rates."""

    ranks: np.ndarray
    in_batch: np.ndarray
    n_candidates: int
    query_sources: np.ndarray
    n_correct: np.ndarray  # correct candidates per query (for the analytic chance level)


def rank_both_ways(
    scores: np.ndarray, eval_set: EvalSet, cfg: RetrievalConfig, seed: int = 0
) -> dict[str, Ranked]:
    """``scores`` is [images, texts] (cosine similarities, or noise for the random baseline)."""
    in_i, in_t = in_batch_hits(
        scores,
        eval_set.relevance,
        eval_set.image_text,
        batch_size=cfg.in_batch_size,
        k=cfg.in_batch_k,
        repeats=cfg.in_batch_repeats,
        seed=seed,
    )
    n_images, n_texts = scores.shape
    rel = eval_set.relevance
    return {
        "image_to_text": Ranked(
            first_relevant_ranks(scores, rel),
            in_i,
            n_texts,
            eval_set.sources,
            np.asarray(rel.sum(axis=1)).ravel(),
        ),
        "text_to_image": Ranked(
            first_relevant_ranks(scores.T, rel.T),
            in_t,
            n_images,
            eval_set.text_sources,
            np.asarray(rel.sum(axis=0)).ravel(),
        ),
    }


def metric_columns(ranked: Ranked, cfg: RetrievalConfig, select: np.ndarray) -> dict[str, np.ndarray]:
    """Per-query values whose mean (median for ``median_rank``) is each reported metric."""
    ranks = ranked.ranks[select]
    cols = {
        f"acc@{p:g}%": hits_at_fraction(ranks, ranked.n_candidates, p).astype(float) for p in cfg.percents
    }
    cols.update({f"R@{k}": (ranks <= k).astype(float) for k in cfg.ks})
    cols["median_rank"] = ranks.astype(float)
    cols["mean_rank"] = ranks.astype(float)
    cols[f"in_batch_top{cfg.in_batch_k}"] = ranked.in_batch[select]
    return cols


def chance_levels(ranked: Ranked, cfg: RetrievalConfig, select: np.ndarray) -> dict[str, float]:
    """Expected value of each hit metric and the mean rank under a uniformly random ranking."""
    m, n = ranked.n_correct[select], ranked.n_candidates
    out = {f"acc@{p:g}%": float(chance_hit_rate(n, m, fraction_cutoff(p, n)).mean()) for p in cfg.percents}
    out.update({f"R@{k}": float(chance_hit_rate(n, m, k).mean()) for k in cfg.ks})
    out["mean_rank"] = float(chance_mean_rank(n, m).mean())
    return out


def subsets(query_sources: np.ndarray) -> dict[str, np.ndarray]:
    """``all`` plus one boolean query mask per source (only when there is more than one source)."""
    out = {ALL: np.ones(len(query_sources), dtype=bool)}
    names = sorted(set(query_sources.tolist()))
    if len(names) > 1:
        out.update({name: query_sources == name for name in names})
    return out


def summarize(
    ranked: dict[str, dict[str, Ranked]],
    cfg: RetrievalConfig,
    boot: BootstrapConfig,
    reference: str | None = None,
) -> tuple[dict, dict]:
    """Bootstrap summaries per model/direction/subset, and paired deltas against ``reference``.

    Returns ``(per_model, deltas)``; see ``hubbleclip.evaluation.results`` for the layout.
    """
    percents = np.round(np.arange(0, 100 + 1e-9, cfg.curve_step), 6).tolist()
    per_model: dict = {name: {d: {} for d in DIRECTIONS} for name in ranked}
    deltas: dict = {name: {d: {} for d in DIRECTIONS} for name in ranked if reference and name != reference}
    for direction in DIRECTIONS:
        first = next(iter(ranked.values()))[direction]
        for subset, mask in subsets(first.query_sources).items():
            idx = resample_indices(int(mask.sum()), boot.samples, boot.seed)
            cols = {name: metric_columns(r[direction], cfg, mask) for name, r in ranked.items()}
            for name, r in ranked.items():
                per_model[name][direction][subset] = {
                    "n_queries": int(mask.sum()),
                    "n_candidates": r[direction].n_candidates,
                    "chance": chance_levels(r[direction], cfg, mask),
                    "metrics": {
                        k: e.to_dict()
                        for k, e in bootstrap(cols[name], REDUCERS, idx, boot.confidence).items()
                    },
                    "curve": {
                        "percent": percents,
                        "accuracy": accuracy_curve(
                            r[direction].ranks[mask], r[direction].n_candidates, percents
                        ),
                    },
                }
                if name in deltas:
                    deltas[name][direction][subset] = {
                        k: e.to_dict()
                        for k, e in bootstrap_difference(
                            cols[name], cols[reference], REDUCERS, idx, boot.confidence
                        ).items()
                    }
    return per_model, deltas
