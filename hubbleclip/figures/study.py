"""PAPERCLIP's ablation figure: retrieval accuracy at 10% per model, both directions, pooled and
per source (same-source candidates), with bootstrap intervals and the chance level."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from hubbleclip.figures.style import color_for, plt, save, setup

DIRECTIONS = (("image_to_text", "image → text"), ("text_to_image", "text → image"))
METRIC = "acc@10%"
MIN_CANDIDATES = 10  # below this ⌊N/10⌋ = 0 and acc@10% is 0 by definition (FIRST's 4 captions, HDF's 1)


def draw(results_json: str | Path, out_stem: str | Path) -> list[Path]:
    """Figure of a study's ``eval/results.json``: one panel per subset with at least
    ``MIN_CANDIDATES`` captions, grouped bars per model."""
    results = json.loads(Path(results_json).read_text())
    models = {n: m for n, m in results["retrieval"]["models"].items() if n != "random"}
    subsets = [
        subset
        for subset, block in next(iter(models.values()))["image_to_text"].items()
        if block["n_candidates"] >= MIN_CANDIDATES
    ]
    setup()
    fig, axes = plt.subplots(1, len(subsets), figsize=(4.2 * len(subsets), 3.8), sharey=True, squeeze=False)
    width = 0.8 / len(models)
    for ax, subset in zip(axes[0], subsets):
        for i, (name, per_dir) in enumerate(models.items()):
            est = [per_dir[d][subset]["metrics"][METRIC] for d, _ in DIRECTIONS]
            value = np.array([e["value"] for e in est])
            err = np.array(
                [[v - e["low"] for v, e in zip(value, est)], [e["high"] - v for v, e in zip(value, est)]]
            )
            x = np.arange(len(DIRECTIONS)) + (i - (len(models) - 1) / 2) * width
            ax.bar(x, value, width, yerr=err, capsize=2, color=color_for(name, i), label=name)
        for j, (direction, _) in enumerate(DIRECTIONS):
            chance = next(iter(models.values()))[direction][subset]["chance"][METRIC]
            ax.hlines(chance, j - 0.45, j + 0.45, colors=color_for("random"), linestyles=":", lw=1.5)
        block = next(iter(models.values()))["image_to_text"][subset]
        kind = "same-source" if block.get("candidates") == "same_source" else "pooled"
        ax.set_title(f"{subset} ({kind}, {block['n_queries']} images)")
        ax.set_xticks(range(len(DIRECTIONS)), [t for _, t in DIRECTIONS])
        ax.set_ylim(0, 1.02)
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].set_ylabel(f"retrieval accuracy at 10% ({METRIC}); dotted: chance")
    axes[0][-1].legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    return save(fig, out_stem)


def report_section(run_dir: Path) -> list[str]:
    """REPORT.md's section on the general-domain base and the ablation study (the demo's study stage)."""
    study_json = Path(run_dir) / "study" / "study.json"
    if not study_json.is_file():
        return []
    study = json.loads(study_json.read_text())
    results = json.loads(Path(study["results"]).read_text())
    ret = results["retrieval"]["models"]
    lines = [
        "## The general-domain base and PAPERCLIP's ablation study",
        "",
        "`base` is lit-mini's general-domain base (projections aligned through ImageNet's classes, no "
        "astronomy); `scratch` the same towers with random projections. On scikit-image's everyday photos:",
        "",
        "| model | photos with a right ImageNet class in the top 5 | descriptions that find their photo |",
        "|---|---|---|",
    ]
    for name, g in study["general_domain"].items():
        lines.append(
            f"| {name} | {g['class_hits']}/{g['class_photos']} | {g['text_to_photo']}/{g['n_photos']} |"
        )
    lines.append("")
    for subset, block in ret["base"]["image_to_text"].items():
        if block.get("candidates") != "same_source" or block["n_candidates"] < 10:
            continue
        acc = block["metrics"]["acc@10%"]
        lines.append(
            f"On astronomy the base is near chance: {subset} image → text acc@10% (same-source, "
            f"{block['n_candidates']} candidates) {acc['value']:.3f} [{acc['low']:.3f}, {acc['high']:.3f}] "
            f"against chance {block['chance']['acc@10%']:.3f}."
        )
    study_dir = Path(study_json).parent
    links = [f"[study table](study/{study_json.with_name('study.md').name})"]
    if (study_dir / "crossval" / "crossval.md").is_file():
        links.append("[Stellarium cross-validation](study/crossval/crossval.md)")
    lines += ["", f"Full tables: {', '.join(links)}; the figure is `study` below.", ""]
    return lines
