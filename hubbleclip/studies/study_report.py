"""The ablation study's markdown table (``study.md``), from study.json's dict and the results."""

from __future__ import annotations

from hubbleclip.evaluation.report import subset_label
from hubbleclip.evaluation.results import EvalResults, RetrievalResults, estimates
from hubbleclip.metrics import Estimate, markdown_table

COLUMNS = (
    ("image_to_text", "acc@10%", "i→t acc@10%"),
    ("image_to_text", "R@1", "i→t R@1"),
    ("text_to_image", "acc@10%", "t→i acc@10%"),
    ("text_to_image", "R@1", "t→i R@1"),
    ("text_to_image", "type_R@1", "t→i type_R@1"),
)


def _cell(est: Estimate, delta: Estimate | None) -> str:
    # † marks a paired difference to the base whose interval excludes zero
    return est.format(mark="†" if delta and delta.excludes_zero else "")


def _row(name: str, ret: RetrievalResults, subset: str) -> list[str]:
    cells = []
    for direction, metric, _ in COLUMNS:
        block = ret.models[name][direction][subset]
        if metric in block.metrics:  # else its cut-off is 0 here: the block says "n/a (cut-off 0 of N)"
            cells.append(_cell(block.metrics[metric], ret.delta(name, direction, subset, metric)))
        else:
            cells.append(block.format(metric))
    return [name, *cells]


def render_study(study: dict, results: EvalResults) -> str:
    ret, boot = results.retrieval, results.settings.bootstrap
    names = ret.names
    cov = study["llm_coverage"]
    lines = [
        f"# Ablation study on {study['dataset']} ({study['split']} split)",
        "",
        f"Every model retrieves the `{study['text_column']}` captions. Cells: value "
        f"[{boot.confidence:.0%} bootstrap interval over queries]; † = the paired difference to `base` "
        "(the untrained general-domain lit-mini) lies outside its interval. `scratch` is the same towers "
        "with random projections, untrained; cells are TRAINING/CAPTIONS. `R@1` counts the own caption "
        "(or one of the same object), `type_R@1` any caption of an object of the same type. LLM captions "
        f"cover {cov['with_caption_llm']} of the {cov['imaged_rows']} imaged {cov['split']} rows.",
        "",
    ]
    for subset, block in ret.subsets("image_to_text").items():
        chance = [ret.subsets(d)[subset].chance.get(m) for d, m, _ in COLUMNS]
        chance = ["n/a" if c is None else f"{c:.3f}" for c in chance]
        lines += [f"## {subset_label(subset, block)}", ""]
        lines += [
            markdown_table(
                ["model", *(c for _, _, c in COLUMNS)],
                [*(_row(n, ret, subset) for n in names if n != "random"), ["chance", *chance]],
            ),
            "",
        ]
    zs = results.zero_shot or {}
    header = [
        "model",
        *(f"zero-shot top-1, {s}" for s in zs),
        "general photos (classes, text→photo)",
        "train s",
    ]
    rows = []
    for name in names:
        if name == "random":
            continue
        cells = [
            _cell(z.models[name].metrics["top1"], z.deltas.get(name, {}).get("top1")) for z in zs.values()
        ]
        general = study["general_domain"][name]
        record = study["cells"].get(name)
        rows.append(
            [
                name,
                *cells,
                f"{general['class_hits']}/{general['class_photos']}, "
                f"{general['text_to_photo']}/{general['n_photos']}",
                f"{record['train_seconds']:.1f}" if record else "–",
            ]
        )
    lines += [
        "## Zero-shot types, general-domain photos, training time",
        "",
        markdown_table(header, rows),
        "",
    ]
    for name, why in study["skipped"].items():
        lines.append(f"- `{name}` skipped: {why}")
    return "\n".join(lines).rstrip() + "\n"


def render_crossval(cv: dict) -> str:
    """crossval.md: every model's mean over all folds' queries, with intervals and deltas to base."""
    metrics = ("acc@10%", "R@1", "R@5", "type_R@1")
    lines = [
        f"# {cv['folds']}-fold cross-validation by object: {cv['source']} "
        f"({sum(cv['images_per_fold'])} images)",
        "",
        f"Folds of {cv['images_per_fold']} images; each fold's `{cv['text_column']}` captions rank only that "
        f"fold's {cv['source']} images (same-source) and the reverse; `tuned` trained its heads on the other "
        "folds. Values: mean over all folds' queries [bootstrap interval]; † = the paired difference to "
        f"`base` lies outside its interval. Training seconds per fold: {cv['train_seconds']}.",
        "",
    ]
    for direction, label in (("image_to_text", "image → text"), ("text_to_image", "text → image")):
        lines += [f"## {label}", ""]
        rows = []
        for name, per_dir in cv["models"].items():
            est = estimates(per_dir[direction]["metrics"])
            delta = estimates(cv["deltas"].get(name, {}).get(direction, {}))
            rows.append(
                [
                    name,
                    *(
                        _cell(est[m], delta.get(m)) if m in est else "n/a (cut-off 0 in a fold)"
                        for m in metrics
                    ),
                ]
            )
        lines += [markdown_table(["model", *metrics], rows), ""]
    return "\n".join(lines).rstrip() + "\n"
