"""``results.md``: the markdown tables of a results.json, models side by side, intervals, deltas
against the reference; ``write_results`` stores both files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from hubbleclip.evaluation.results import RESULTS_JSON, RESULTS_MD, EvalResults, RetrievalBlock
from hubbleclip.io import atomic_write_json, atomic_write_text
from hubbleclip.metrics import Estimate, markdown_table

ARROWS = {"image_to_text": "image → text", "text_to_image": "text → image"}


def _digits(metric: str) -> int:
    return 1 if metric.endswith("_rank") else 3


def _cell(est: Estimate, metric: str = "") -> str:
    return est.format(_digits(metric))


def _delta(est: Estimate, metric: str = "") -> str:
    # bold when the interval excludes zero
    return est.format(_digits(metric), signed=True, bold=est.excludes_zero)


def _chance(chance: dict[str, float], metric: str) -> str:
    return f"{chance[metric]:.{_digits(metric)}f}" if metric in chance else ""


def _metric_rows(
    metrics: list[str],
    per_model: dict[str, dict[str, Estimate]],
    deltas: dict[str, dict[str, Estimate]],
    extra: Callable[[str], str],
) -> list[list[str]]:
    return [
        [
            metric,
            *(_cell(m[metric], metric) for m in per_model.values()),
            extra(metric),
            *(_delta(d[metric], metric) for d in deltas.values()),
        ]
        for metric in metrics
    ]


def subset_label(subset: str, block: RetrievalBlock) -> str:
    """``all (pooled, 120 queries, 80 candidates)`` / ``stellarium (same-source, ...)``."""
    kind = "same-source" if block.same_source else "pooled"
    return f"{subset} ({kind}, {block.n_queries} queries, {block.n_candidates} candidates)"


def _block_rows(blocks: dict[str, RetrievalBlock], deltas: dict[str, dict[str, Estimate]]) -> list[list[str]]:
    """One row per metric: each model's cell (``n/a (reason)`` where undefined), chance, deltas."""
    first = next(iter(blocks.values()))
    return [
        [
            metric,
            *(b.format(metric, _digits(metric)) for b in blocks.values()),
            _chance(first.chance, metric),
            *(_delta(d[metric], metric) if metric in d else "n/a" for d in deltas.values()),
        ]
        for metric in first.metric_names
    ]


RETRIEVAL_INTRO = (
    "Two definitions side by side. **Ours** (the first table of each pair): identical captions are one "
    "candidate and any caption of the same object counts as correct; accuracy at k% = share of queries "
    "whose correct partner ranks within ⌊k/100·N⌋ of the N candidates; `R@k` counts the own caption "
    "(or one of the same object), `type_R@k` any caption of an object of the same type; "
    "`in_batch_top10` is top-10 inside random full batches of 100 images. **Paper** (PAPERCLIP's "
    "definitions): N image-caption pairs, only the own partner is correct, so a caption shared by "
    "several images is several tied candidates; its image → text `acc@k%` is the paper's "
    "retrieved-fraction curve and its text → image `in_batch_top10` the paper's training-time metric "
    "(top-10 of fixed batches of 100 pairs, the last partial batch dropped). With one unique caption "
    "per image both agree. `all` is pooled (every query against the whole split); a source's rows "
    "are same-source (its queries against its own candidates only). `chance` is the exact "
    "expectation under a uniformly random ranking; `n/a (cut-off 0 of N)`: ⌊k/100·N⌋ is 0, so the "
    "metric is not defined."
)


def _retrieval(results: EvalResults) -> list[str]:
    ret, ref = results.retrieval, results.reference
    names, delta_names = ret.names, list(ret.deltas)
    lines = ["## Retrieval", "", RETRIEVAL_INTRO, ""]
    header = ["metric", *names, "chance", *(f"Δ {n} − {ref}" for n in delta_names)]
    for direction, label in ARROWS.items():
        for subset, block in ret.subsets(direction).items():
            lines += [f"### {label}, {subset_label(subset, block)}", ""]
            blocks = {n: ret.models[n][direction][subset] for n in names}
            deltas = {n: ret.deltas[n][direction][subset] for n in delta_names}
            lines += [markdown_table(header, _block_rows(blocks, deltas)), ""]
            if block.paper is None:
                continue
            papers = {n: b.paper for n, b in blocks.items()}
            paper_deltas = {n: ret.delta_table(n, direction, subset, paper=True) for n in delta_names}
            lines += [
                f"Paper's definitions ({block.paper.n_queries} pairs, own partner only):",
                "",
                markdown_table(header, _block_rows(papers, paper_deltas)),
                "",
            ]
    return lines


def _zero_shot(results: EvalResults) -> list[str]:
    ref = results.reference
    lines = ["## Zero-shot classification", ""]
    for set_name, zs in results.zero_shot.items():
        names, delta_names = list(zs.models), list(zs.deltas)
        first = zs.models[names[0]]
        lines += [
            f"### {set_name}: {first.n_images} labelled images, {len(first.classes)} classes "
            f"({zs.class_list}), {zs.n_templates} prompt templates",
            "",
        ]
        if first.n_unlabelled:
            lines += [
                f"{first.n_unlabelled} images of this source have a type outside the class list and "
                f"are not scored.",
                "",
            ]
        header = ["metric", *names, "chance", *(f"Δ {n} − {ref}" for n in delta_names)]
        per_model = {n: zs.models[n].metrics for n in names}
        rows = _metric_rows(
            list(first.metrics), per_model, zs.deltas, extra=lambda m, c=first.chance: _chance(c, m)
        )
        lines += [markdown_table(header, rows), ""]
        for name in names:
            if name == "random":
                continue
            conf = zs.models[name].confusion
            used = [i for i, row in enumerate(conf.matrix) if sum(row) or sum(r[i] for r in conf.matrix)]
            lines += [
                f"Confusion matrix of {name} (rows: true class, columns: predicted; classes never seen "
                f"or predicted left out):",
                "",
                markdown_table(
                    ["true \\ predicted", *(conf.labels[i] for i in used)],
                    [[conf.labels[i], *(str(conf.matrix[i][j]) for j in used)] for i in used],
                ),
                "",
            ]
    return lines


def render_summary(results: EvalResults, percent: float = 10.0) -> str:
    """One headline table: accuracy at ``percent``% both ways per subset,
    zero-shot top-1 and balanced accuracy."""
    ref, names = results.reference, list(results.models)
    rows = []
    ret = results.retrieval
    if ret:
        metric = f"acc@{percent:g}%"
        for direction, label in ARROWS.items():
            for subset, block in ret.subsets(direction).items():
                if metric in block.metric_names:
                    rows.append(
                        [
                            f"{label} {metric}, {subset_label(subset, block)}",
                            *(ret.models[n][direction][subset].format(metric) for n in names),
                            *(
                                _delta(d[direction][subset][metric])
                                if metric in d[direction][subset]
                                else "n/a"
                                for d in ret.deltas.values()
                            ),
                        ]
                    )
    for set_name, zs in (results.zero_shot or {}).items():
        for metric in ("top1", "balanced_accuracy"):
            rows.append(
                [
                    f"zero-shot {metric}, {set_name}",
                    *(_cell(zs.models[n].metrics[metric]) for n in names),
                    *(_delta(d[metric]) for d in zs.deltas.values()),
                ]
            )
    deltas = [n for n in names if n != ref and n != "random"]
    return markdown_table(["", *names, *(f"Δ {n} − {ref}" for n in deltas)], rows) + "\n"


def render_markdown(results: EvalResults) -> str:
    ds, boot = results.dataset, results.settings.bootstrap
    models = ", ".join(f"`{n}` = {m.spec}" for n, m in results.models.items())
    lines = [
        f"# Evaluation of {ds.path} ({ds.split} split)",
        "",
        f"{ds.n_images} images ({', '.join(f'{k}: {v}' for k, v in ds.images_per_source.items())}), "
        f"{ds.n_texts} distinct `{ds.text_column}` texts. Models: {models} "
        f"(`random` ranks by uniform noise).",
        "",
        f"Cells: value [{boot.confidence:.0%} bootstrap interval, {boot.samples} resamples]. "
        f"Δ columns: paired bootstrap of the difference to `{results.reference}`; bold when the interval "
        f"excludes zero.",
        "",
    ]
    lines += ["## Summary", "", render_summary(results)]
    if results.retrieval:
        lines += _retrieval(results)
    if results.zero_shot is not None:
        lines += _zero_shot(results)
    return "\n".join(lines).rstrip() + "\n"


def write_results(results: dict, out_dir: str | Path) -> tuple[Path, Path]:
    """Write ``results.json`` (``run_evaluation``'s dict) and its tables ``results.md`` atomically
    into ``out_dir``."""
    out_dir = Path(out_dir)
    return (
        atomic_write_json(out_dir / RESULTS_JSON, results),
        atomic_write_text(out_dir / RESULTS_MD, render_markdown(EvalResults.from_dict(results))),
    )
