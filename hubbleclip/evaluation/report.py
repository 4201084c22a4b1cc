"""Markdown tables of a results dict: models side by side, intervals, deltas against the reference."""

from __future__ import annotations

from hubbleclip.metrics.bootstrap import format_estimate

ARROWS = {"image_to_text": "image → text", "text_to_image": "text → image"}


def _fmt(value: float, rank: bool) -> str:
    return f"{value:.1f}" if rank else f"{value:.3f}"


def _cell(est: dict, rank: bool = False) -> str:
    return format_estimate(est, 1 if rank else 3)


def _delta(est: dict, rank: bool = False) -> str:
    # bold when the interval excludes zero
    bold = "**" if est["low"] > 0 or est["high"] < 0 else ""
    digits = 1 if rank else 3
    return f"{bold}{est['value']:+.{digits}f}{bold} [{est['low']:+.{digits}f}, {est['high']:+.{digits}f}]"


def _chance(chance: dict, metric: str) -> str:
    return _fmt(chance[metric], metric.endswith("_rank")) if metric in chance else ""


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(r) + " |" for r in rows),
    ]


def _metric_rows(
    metrics: list[str], per_model: dict[str, dict], deltas: dict[str, dict], extra=None
) -> list[list[str]]:
    rows = []
    for metric in metrics:
        rank = metric.endswith("_rank")
        row = [metric] + [_cell(m[metric], rank) for m in per_model.values()]
        if extra is not None:
            row.append(extra(metric))
        row += [_delta(d[metric], rank) for d in deltas.values()]
        rows.append(row)
    return rows


def subset_label(subset: str, block: dict) -> str:
    """``all (pooled, 120 queries, 80 candidates)`` / ``stellarium (same-source, ...)``."""
    kind = "same-source" if block.get("candidates") == "same_source" else "pooled"
    return f"{subset} ({kind}, {block['n_queries']} queries, {block['n_candidates']} candidates)"


def _retrieval(results: dict) -> list[str]:
    ret, ref = results["retrieval"], results["reference"]
    names, delta_names = list(ret["models"]), list(ret["deltas"])
    lines = [
        "## Retrieval",
        "",
        "Accuracy at k% = share of queries whose correct partner ranks within ⌊k/100·N⌋ of the N candidates "
        "(PAPERCLIP). `all` is pooled (every query against the whole split); a source's rows are "
        "same-source (its queries against its own candidates only). `R@k` counts the own caption (or one "
        "of the same object), `type_R@k` any caption of an object of the same type. `chance` is the "
        "exact expectation under a uniformly random ranking.",
        "",
    ]
    header = ["metric", *names, "chance", *(f"Δ {n} − {ref}" for n in delta_names)]
    for direction, label in ARROWS.items():
        for subset, block in ret["models"][names[0]][direction].items():
            lines += [f"### {label}, {subset_label(subset, block)}", ""]
            per_model = {n: ret["models"][n][direction][subset]["metrics"] for n in names}
            deltas = {n: ret["deltas"][n][direction][subset] for n in delta_names}
            chance = block["chance"]
            lines += _table(
                header,
                _metric_rows(
                    list(block["metrics"]),
                    per_model,
                    deltas,
                    extra=lambda m, chance=chance: _chance(chance, m),
                ),
            ) + [""]
    return lines


def _zero_shot(results: dict) -> list[str]:
    ref = results["reference"]
    lines = ["## Zero-shot classification", ""]
    for set_name, zs in results["zero_shot"].items():
        names, delta_names = list(zs["models"]), list(zs["deltas"])
        first = zs["models"][names[0]]
        lines += [
            f"### {set_name}: {first['n_images']} labelled images, {len(first['classes'])} classes "
            f"({zs['class_list']}), {zs['n_templates']} prompt templates",
            "",
        ]
        if first["n_unlabelled"]:
            lines += [
                f"{first['n_unlabelled']} images of this source have a type outside the class list and "
                f"are not scored.",
                "",
            ]
        header = ["metric", *names, "chance", *(f"Δ {n} − {ref}" for n in delta_names)]
        metrics = list(first["metrics"])
        per_model = {n: zs["models"][n]["metrics"] for n in names}
        deltas = {n: zs["deltas"][n] for n in delta_names}
        chance = first["chance"]
        lines += _table(
            header,
            _metric_rows(metrics, per_model, deltas, extra=lambda m, chance=chance: _chance(chance, m)),
        ) + [""]
        for name in names:
            if name == "random":
                continue
            conf = zs["models"][name]["confusion"]
            used = [
                i for i, row in enumerate(conf["matrix"]) if sum(row) or sum(r[i] for r in conf["matrix"])
            ]
            lines += [
                f"Confusion matrix of {name} (rows: true class, columns: predicted; classes never seen "
                f"or predicted left out):",
                "",
            ]
            lines += _table(
                ["true \\ predicted", *(conf["labels"][i] for i in used)],
                [[conf["labels"][i], *(str(conf["matrix"][i][j]) for j in used)] for i in used],
            ) + [""]
    return lines


def render_summary(results: dict, percent: float = 10.0) -> str:
    """One headline table: accuracy at ``percent``% both ways per subset,
    zero-shot top-1 and balanced accuracy."""
    ref = results["reference"]
    names = list(results["models"])
    rows = []
    ret = results.get("retrieval")
    if ret:
        metric = f"acc@{percent:g}%"
        delta_names = list(ret["deltas"])
        for direction, label in ARROWS.items():
            for subset, block in ret["models"][names[0]][direction].items():
                if metric in block["metrics"]:
                    rows.append(
                        [
                            f"{label} {metric}, {subset_label(subset, block)}",
                            *(_cell(ret["models"][n][direction][subset]["metrics"][metric]) for n in names),
                            *(_delta(ret["deltas"][n][direction][subset][metric]) for n in delta_names),
                        ]
                    )
    for set_name, zs in results.get("zero_shot", {}).items():
        delta_names = list(zs["deltas"])
        for metric in ("top1", "balanced_accuracy"):
            rows.append(
                [
                    f"zero-shot {metric}, {set_name}",
                    *(_cell(zs["models"][n]["metrics"][metric]) for n in names),
                    *(_delta(zs["deltas"][n][metric]) for n in delta_names),
                ]
            )
    deltas = [n for n in names if n != ref and n != "random"]
    return "\n".join(_table(["", *names, *(f"Δ {n} − {ref}" for n in deltas)], rows)) + "\n"


def render_markdown(results: dict) -> str:
    ds = results["dataset"]
    models = ", ".join(f"`{n}` = {m['spec']}" for n, m in results["models"].items())
    boot = results["settings"]["bootstrap"]
    lines = [
        f"# Evaluation of {ds['path']} ({ds['split']} split)",
        "",
        f"{ds['n_images']} images ({', '.join(f'{k}: {v}' for k, v in ds['images_per_source'].items())}), "
        f"{ds['n_texts']} distinct `{ds['text_column']}` texts. Models: {models} "
        f"(`random` ranks by uniform noise).",
        "",
        f"Cells: value [{boot['confidence']:.0%} bootstrap interval, {boot['samples']} resamples]. "
        f"Δ columns: paired bootstrap of the difference to `{results['reference']}`; bold when the interval "
        f"excludes zero.",
        "",
    ]
    lines += ["## Summary", "", render_summary(results)]
    if "retrieval" in results:
        lines += _retrieval(results)
    if "zero_shot" in results:
        lines += _zero_shot(results)
    return "\n".join(lines).rstrip() + "\n"
