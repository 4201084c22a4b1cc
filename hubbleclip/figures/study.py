"""PAPERCLIP's ablation figure: retrieval accuracy at 10% per model, both directions, pooled and
per source (same-source candidates), with bootstrap intervals and the chance level."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hubbleclip.evaluation.results import EvalResults
from hubbleclip.figures.style import color_for, plt, save, setup

DIRECTIONS = (("image_to_text", "image → text"), ("text_to_image", "text → image"))
METRIC = "acc@10%"
MIN_CANDIDATES = 10  # below this ⌊N/10⌋ = 0 and acc@10% is 0 by definition (FIRST's 4 captions, HDF's 1)


def draw(results: EvalResults, out_stem: str | Path) -> list[Path]:
    """Figure of a study's ``eval/results.json``: one panel per subset with at least
    ``MIN_CANDIDATES`` captions, grouped bars per model."""
    ret = results.retrieval
    models = {n: m for n, m in ret.models.items() if n != "random"}
    subsets = [s for s, block in ret.subsets("image_to_text").items() if block.n_candidates >= MIN_CANDIDATES]
    setup()
    fig, axes = plt.subplots(1, len(subsets), figsize=(4.2 * len(subsets), 3.8), sharey=True, squeeze=False)
    width = 0.8 / len(models)
    for ax, subset in zip(axes[0], subsets):
        for i, (name, per_dir) in enumerate(models.items()):
            est = [per_dir[d][subset].metrics[METRIC] for d, _ in DIRECTIONS]
            value = np.array([e.value for e in est])
            err = np.array([[e.value - e.low for e in est], [e.high - e.value for e in est]])
            x = np.arange(len(DIRECTIONS)) + (i - (len(models) - 1) / 2) * width
            ax.bar(x, value, width, yerr=err, capsize=2, color=color_for(name, i), label=name)
        for j, (direction, _) in enumerate(DIRECTIONS):
            chance = ret.subsets(direction)[subset].chance[METRIC]
            ax.hlines(chance, j - 0.45, j + 0.45, colors=color_for("random"), linestyles=":", lw=1.5)
        block = ret.subsets("image_to_text")[subset]
        kind = "same-source" if block.same_source else "pooled"
        ax.set_title(f"{subset} ({kind}, {block.n_queries} images)")
        ax.set_xticks(range(len(DIRECTIONS)), [t for _, t in DIRECTIONS])
        ax.set_ylim(0, 1.02)
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].set_ylabel(f"retrieval accuracy at 10% ({METRIC}); dotted: chance")
    axes[0][-1].legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    return save(fig, out_stem)
