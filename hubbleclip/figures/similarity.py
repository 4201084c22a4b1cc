"""A similarity query: the query image, its nearest images, the ranking after selecting two of them,
and the quick-select cluster representatives."""

from __future__ import annotations

import textwrap
from pathlib import Path

from hubbleclip.figures.examples import _thumb
from hubbleclip.figures.style import color_for, plt, save, setup


def draw(query: dict, load_image, out_stem: str | Path, columns: int = 8) -> list[Path]:
    """``load_image(item)`` returns the PIL image of an item of similar.json."""
    setup()
    rows = [
        ("nearest", query["neighbours"][:columns]),
        ("after selecting 2", query["refined"][:columns]),
        ("quick-select clusters", [c["representative"] for c in query["clusters"]][:columns]),
    ]
    fig, axes = plt.subplots(
        len(rows), columns + 1, figsize=(1.5 * (columns + 1), 2.1 * len(rows)), squeeze=False
    )
    selected = set(query["selected"])
    for r, (label, items) in enumerate(rows):
        ax = axes[r][0]
        if r == 0:
            _thumb(ax, load_image(query["query_item"]), f"query: {query['query']}", border="black")
        else:
            ax.axis("off")
        ax.text(-0.1, 0.5, label, transform=ax.transAxes, rotation=90, va="center", ha="right", fontsize=8)
        for c in range(columns):
            ax = axes[r][c + 1]
            if c >= len(items):
                ax.axis("off")
                continue
            it = items[c]
            title = textwrap.shorten(it["type"], 26)
            if it.get("score") is not None:
                title += f"\n{it['score']:.2f}"
            if r == 2:
                title += f"\n{query['clusters'][c]['size']} images"
            border = color_for("tuned") if it["image_id"] in selected else None
            _thumb(ax, load_image(it), title, border=border)
    fig.suptitle(f"similar images to {query['query']} (selected images framed)", y=1.0)
    fig.tight_layout()
    return save(fig, out_stem)
