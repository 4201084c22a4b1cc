"""Retrieval accuracy against the retrieved fraction, both directions, one line per model,
with the random diagonal (PAPERCLIP's figure)."""

from __future__ import annotations

from pathlib import Path

from hubbleclip.evaluation.results import EvalResults
from hubbleclip.figures.style import color_for, plt, save, setup

DIRECTIONS = (("image_to_text", "image → text"), ("text_to_image", "text → image"))


def draw(results: EvalResults, out_stem: str | Path, subset: str = "all") -> list[Path]:
    setup()
    ret = results.retrieval
    models = ret.models
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.8), sharey=True)
    for ax, (direction, title) in zip(axes, DIRECTIONS):
        ax.plot([0, 100], [0, 1], ls=":", color=color_for("random"), lw=1, label="random (expected)")
        for i, (name, per_dir) in enumerate(models.items()):
            if name == "random" or subset not in per_dir.get(direction, {}):
                continue
            entry = per_dir[direction][subset]
            ax.plot(
                entry.curve.percent,
                entry.curve.accuracy,
                color=color_for(name, i),
                lw=2,
                label=f"{name} (acc@10% {entry.format('acc@10%', 2)})",
            )
        ax.set_title(f"{title} ({subset}, N={ret.subsets(direction)[subset].n_candidates})")
        ax.set_xlabel("retrieved fraction of the candidates (%)")
        ax.set_xlim(0, 100)
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right")
    axes[0].set_ylabel("fraction of queries whose partner is retrieved")
    return save(fig, out_stem)
