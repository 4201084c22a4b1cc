"""PAPERCLIP's main figure: retrieval accuracy against the retrieved fraction (0–100%) for every
model of a study on one axis (base, summaries ``caption_llm``, abstracts ``text_chunks``, template
captions, scratch), both directions, with a 95% band per point and the random diagonal.

The band is the Wilson score interval of each point's accuracy over the subset's queries: the
study's results keep one curve per model, not bootstrap replicates of it, and a point is a
proportion of queries, so its binomial interval is what can be drawn from the saved numbers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hubbleclip.evaluation.results import EvalResults
from hubbleclip.figures.style import color_for, plt, save, setup

DIRECTIONS = (("image_to_text", "image → text"), ("text_to_image", "text → image"))
Z95 = 1.959964


def wilson_band(accuracy: np.ndarray, n: int, z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper Wilson score bounds of proportions ``accuracy`` observed over ``n`` trials."""
    p = np.asarray(accuracy, dtype=float)
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)


def draw(results: EvalResults, out_stem: str | Path, subset: str = "all") -> list[Path]:
    """One panel per direction; every model of ``results`` (a study's ``eval/results.json``) on it."""
    setup()
    ret = results.retrieval
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), sharey=True)
    for ax, (direction, title) in zip(axes, DIRECTIONS):
        ax.plot([0, 100], [0, 1], ls=":", color=color_for("random"), lw=1, label="random (expected)")
        models = [(n, d) for n, d in ret.models.items() if n != "random" and subset in d.get(direction, {})]
        for i, (name, per_dir) in enumerate(models):
            entry = per_dir[direction][subset]
            x, y = np.asarray(entry.curve.percent), np.asarray(entry.curve.accuracy)
            low, high = wilson_band(y, entry.n_queries)
            colour = color_for(name, i)
            ax.fill_between(x, low, high, color=colour, alpha=0.18, lw=0)
            ax.plot(x, y, color=colour, lw=1.8, label=name)
        block = ret.subsets(direction)[subset]
        ax.set_title(f"{title} ({subset}: {block.n_queries} queries, {block.n_candidates} candidates)")
        ax.set_xlabel("retrieved fraction of the candidates (%)")
        ax.set_xlim(0, 100)
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("retrieval accuracy (band: Wilson 95%)")
    axes[1].legend(loc="lower right", fontsize=8)
    return save(fig, out_stem)
