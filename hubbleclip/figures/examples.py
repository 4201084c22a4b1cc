"""Qualitative figures from the demo's examples.json: top-5 descriptions per image
(PAPERCLIP's description-retrieval figure) and top images per text query, base vs fine-tuned."""

from __future__ import annotations

import textwrap
from pathlib import Path

from hubbleclip.figures.style import color_for, plt, save, setup


def _thumb(ax, image, title: str | None = None, border: str | None = None) -> None:
    ax.imshow(image, cmap="gray" if image.mode == "L" else None)
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(border is not None)
        if border:
            spine.set_edgecolor(border)
            spine.set_linewidth(2)
    if title:
        ax.set_title(title, fontsize=7)


def image_to_text(examples: dict, images: list, out_stem: str | Path) -> list[Path]:
    """One row per image: the image, then each model's top-5 descriptions with probabilities."""
    setup()
    models = list(examples["image_to_text"])
    n = len(examples["images"])
    fig, axes = plt.subplots(
        n,
        1 + len(models),
        figsize=(3 + 3.4 * len(models), 1.9 * n),
        gridspec_kw={"width_ratios": [1] + [1.9] * len(models)},
        squeeze=False,
    )
    for r, info in enumerate(examples["images"]):
        _thumb(axes[r][0], images[r], textwrap.shorten(f"{', '.join(info['names'])} ({info['type']})", 40))
        for c, name in enumerate(models, 1):
            ax = axes[r][c]
            ax.axis("off")
            if r == 0:
                ax.set_title(name, color=color_for(name, c), fontweight="bold")
            for k, hit in enumerate(examples["image_to_text"][name][r]):
                ax.text(
                    0,
                    0.9 - 0.19 * k,
                    f"{hit['probability']:.2f}  {textwrap.shorten(hit['class'], 44)}",
                    transform=ax.transAxes,
                    fontsize=8,
                    va="top",
                    family="monospace",
                    color="black" if k else color_for(name, c),
                )
    fig.suptitle(
        f"image → text: top-5 of the '{examples['class_list']}' list ({examples['split']} images)", y=1.0
    )
    fig.tight_layout()
    return save(fig, out_stem)


def text_to_image(examples: dict, load_image, out_stem: str | Path) -> list[Path]:
    """One row per query: each model's top images (``load_image(row)`` gives the PIL image)."""
    setup()
    models = list(examples["text_to_image"])
    queries = examples["queries"]
    k = len(examples["text_to_image"][models[0]][0])
    fig, axes = plt.subplots(
        len(queries), k * len(models), figsize=(1.6 * k * len(models), 1.9 * len(queries)), squeeze=False
    )
    for q, query in enumerate(queries):
        for m, name in enumerate(models):
            for j, hit in enumerate(examples["text_to_image"][name][q]):
                ax = axes[q][m * k + j]
                _thumb(
                    ax, load_image(hit["row"]), textwrap.shorten(hit["type"], 24), border=color_for(name, m)
                )
                if j == 0:
                    ax.set_ylabel(textwrap.fill(query, 18) if m == 0 else "", fontsize=8)
    for m, name in enumerate(models):
        axes[0][m * k].annotate(
            name, xy=(0, 1.35), xycoords="axes fraction", fontweight="bold", color=color_for(name, m)
        )
    fig.suptitle(f"text → image: top {k} {examples['split']} images per query", y=1.02)
    fig.tight_layout()
    return save(fig, out_stem)
