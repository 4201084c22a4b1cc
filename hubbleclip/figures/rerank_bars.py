"""MAP@10 and NDCG@10 of random, BM25-only, CLIP-only and the learned ranker, per query type, with
bootstrap 95 % intervals over queries as error bars."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hubbleclip.figures.style import color_for, plt, save, setup


def draw(results: dict, out_stem: str | Path, split: str = "test") -> list[Path]:
    setup()
    k = results["k"]
    intervals = results["intervals"][split]
    groups = [g for g in results["groups"] if intervals.get(g) and results["counts"][split].get(g)]
    systems = results["systems"]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
    width = 0.8 / len(systems)
    x = np.arange(len(groups))
    for ax, metric in zip(axes, (f"map@{k}", f"ndcg@{k}")):
        for s, system in enumerate(systems):
            ests = [intervals[g].get(system) for g in groups]
            vals = np.array([np.nan if e is None else e[metric]["value"] for e in ests])
            lows = np.array([np.nan if e is None else e[metric]["low"] for e in ests])
            highs = np.array([np.nan if e is None else e[metric]["high"] for e in ests])
            bars = ax.bar(
                x + (s - (len(systems) - 1) / 2) * width,
                np.nan_to_num(vals),  # a 0-high bar keeps the "n/a" label visible
                width,
                yerr=np.nan_to_num([vals - lows, highs - vals]),
                capsize=2,
                error_kw={"elinewidth": 0.8},
                label=system,
                color=color_for(system, s),
            )
            ax.bar_label(
                bars, labels=["n/a" if np.isnan(v) else f"{v:.2f}" for v in vals], fontsize=7, padding=1
            )
        ax.set_xticks(x, [f"{g}\n(n={results['counts'][split][g]})" for g in groups])
        ax.set_title(metric.upper().replace("@", "@"))
        ax.set_ylim(0, 1.1)
        ax.grid(axis="y", alpha=0.3)
    conf = round(100 * results["bootstrap"]["confidence"])
    axes[0].set_ylabel(
        f"{split} queries (grades ≥ {results['relevant_grade']} relevant)\n{conf}% bootstrap intervals"
    )
    # below the panels: inside them it would hide the tallest bars' labels
    fig.legend(
        *axes[0].get_legend_handles_labels(),
        loc="upper center",
        ncol=len(systems),
        bbox_to_anchor=(0.5, 0.0),
        frameon=False,
    )
    fig.tight_layout()
    return save(fig, out_stem)
