"""Shared look: one colour per model role, readable sizes, atomic PNG + PDF output."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from hubbleclip.io import atomic_write_bytes

# the same role always gets the same colour in every figure
COLORS = {
    "base": "#4C72B0",
    "tuned": "#DD8452",
    "random": "#8C8C8C",
    "bm25": "#55A868",
    "clip": "#8172B3",
    "learned": "#C44E52",
}
FALLBACK = ["#64B5CD", "#CCB974", "#937860", "#DA8BC3"]


def color_for(name: str, index: int = 0) -> str:
    key = name.lower()
    for role, colour in COLORS.items():
        if role in key:
            return colour
    return FALLBACK[index % len(FALLBACK)]


def setup() -> None:
    plt.rcParams.update(
        {
            "figure.dpi": 110,
            "savefig.dpi": 150,
            "font.size": 10,
            "axes.titlesize": 11,
            "axes.labelsize": 10,
            "legend.fontsize": 9,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "savefig.bbox": "tight",
        }
    )


def save(fig, out_stem: str | Path) -> list[Path]:
    """Write ``out_stem.png`` and ``out_stem.pdf`` atomically; close the figure."""
    out_stem = Path(out_stem)
    paths = []
    for ext in ("png", "pdf"):
        buf = io.BytesIO()
        fig.savefig(buf, format=ext)
        paths.append(atomic_write_bytes(out_stem.with_suffix(f".{ext}"), buf.getvalue()))
    plt.close(fig)
    return paths
