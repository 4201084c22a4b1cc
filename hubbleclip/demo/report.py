"""``RUN_DIR/REPORT.md``: what the demo did, with every number read from the results files."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from hubbleclip.demo.layout import RunLayout
from hubbleclip.evaluation.results import load_results
from hubbleclip.io import atomic_write_text
from hubbleclip.judge.report import render_lines
from hubbleclip.metrics import Estimate, markdown_table
from hubbleclip.runs import MetricsLog
from hubbleclip.search.kinds_results import RANKER_ONLY, RESOLVER_FIRST, SYSTEMS, KindsResults


def _load(path: Path) -> Any | None:
    return json.loads(path.read_text()) if path.is_file() else None


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return [markdown_table(header, rows), ""]


def _rel(path: Path, layout: RunLayout) -> str:
    return os.path.relpath(path, layout.run_dir)


def _skyset(layout: RunLayout) -> list[str]:
    done = _load(layout.skyset_done)
    if not done:
        return []
    o = done["outputs"]
    lines = [
        "## Data",
        "",
        f"Skyset `{o['skyset']}`: {o['rows']} rows, {o['images']} images; splits {o['splits']}.",
        "",
    ]
    rows = [
        [src, *(str(counts.get(s, 0)) for s in ("train", "val", "test"))]
        for src, counts in o["by_source"].items()
    ]
    lines += _table(["source", "train", "val", "test"], rows)
    for name, hint in o.get("missing_sources", {}).items():
        lines.append(f"- missing source **{name}**: {hint}")
    return lines


def _captions(layout: RunLayout) -> list[str]:
    gen = _load(layout.caption_generation)
    quality = _load(layout.caption_quality)
    if not gen or not quality:
        return []
    run = gen.get("run", {})
    shipped = gen.get("shipped")
    lines = [
        "## LLM captions",
        "",
        f"Model `{gen['model']}`, prompt version `{gen['prompt_version']}`"
        + (
            f"; {shipped['used']} texts from the shipped captions, {gen.get('live_texts', 0)} texts "
            "captioned live."
            if shipped
            else "."
        ),
        "",
        f"{gen['llm_captions']} LLM captions for {gen['selected']} selected "
        f"of {gen['distinct_texts']} distinct texts "
        f"({run.get('generated', 0)} generated now, {run.get('cached', 0)} from the cache, "
        f"{gen['failed']} failed and "
        f"kept the template caption); {run.get('captions_per_second', 'n/a')} captions/s.",
        "",
    ]
    columns = [("LLM", quality["llm"])] + (
        [("template", quality["template_baseline"])] if "template_baseline" in quality else []
    )
    lines += _table(
        ["quality metric", *(c for c, _ in columns)],
        [
            [
                key,
                *(
                    ""
                    if m.get(key) is None
                    else f"{m[key]:.3g}"
                    if isinstance(m[key], float)
                    else str(m[key])
                    for _, m in columns
                ),
            ]
            for key in quality["llm"]
        ],
    )
    return lines


def _training(layout: RunLayout) -> list[str]:
    done = _load(layout.train_done)
    if not done or not layout.train_metrics.is_file():
        return []
    records = MetricsLog(layout.train_metrics).read()
    val = [r for r in records if "val_loss" in r]
    start = next((r for r in records if r.get("event") == "start"), {})
    lines = [
        "## Fine-tuning",
        "",
        f"Run `{_rel(layout.train, layout)}`: {start.get('trainable_params', '?')} trainable of "
        f"{start.get('total_params', '?')} parameters, {start.get('train_pairs', '?')} training pairs, "
        f"{done['seconds']:.0f} s.",
    ]
    if val:
        best = min(val, key=lambda r: r["val_loss"])
        last = val[-1]
        keys = [k for k in last if k.startswith("val_") and "top" in k]
        lines.append(
            f"Validation at step {last['step']}: loss {last['val_loss']:.3f}, "
            + ", ".join(f"{k[4:]} {last[k]:.3f}" for k in keys)
            + f"; best validation loss {best['val_loss']:.3f} at step {best['step']}."
        )
    return lines + [""]


def _compare(layout: RunLayout) -> list[str]:
    if not layout.compare_results.is_file():
        return []
    res = load_results(layout.compare_results)
    table = _rel(layout.compare_table, layout)
    lines = [
        "## Base vs fine-tuned",
        "",
        f"Split `{res.dataset.split}`: {res.dataset.n_images} images, {res.dataset.n_texts} distinct "
        "captions. Values are the statistic with its 95% bootstrap interval; "
        "`random` is the chance baseline. "
        f"Full tables: [{table}]({table}).",
        "",
    ]
    ret = res.retrieval
    lines += [
        "Two definitions. **ours**: identical captions are one candidate and any caption of the same "
        "object counts as correct. **paper**: PAPERCLIP's pair-level quantities, only the own partner "
        "is correct (a caption shared by several images is several tied candidates); its text→image "
        "`in_batch_top10` is the paper's training-time top-10 of fixed batches of 100 pairs. "
        "`n/a (cut-off 0 of N)`: ⌊k/100·N⌋ is 0, the metric is not defined.",
        "",
    ]
    rows = []
    for direction in ("image_to_text", "text_to_image"):
        for subset, first in ret.subsets(direction).items():
            kinds = [("ours", m, lambda b: b) for m in ("R@1", "acc@1%", "acc@10%", "R@10", "type_R@1")]
            if first.paper is not None:
                paper = ["R@1", "acc@10%"] + (["in_batch_top10"] if direction == "text_to_image" else [])
                kinds += [("paper", m, lambda b: b.paper) for m in paper]
            for kind, metric, pick in kinds:
                block = pick(first)
                rows.append(
                    [
                        direction.replace("_to_", "→"),
                        f"{subset} ({first.candidates.replace('_', '-')})",
                        str(block.n_queries),
                        str(block.n_candidates),
                        kind,
                        metric,
                        *(pick(per_dir[direction][subset]).format(metric) for per_dir in ret.models.values()),
                    ]
                )
    lines += _table(["direction", "queries", "n", "candidates", "definition", "metric", *ret.models], rows)
    for name, zs in (res.zero_shot or {}).items():
        zrows = [
            [
                m,
                v.metrics["top1"].format(),
                v.metrics["top5"].format(),
                f"{v.chance['top1']:.3f}",
                str(v.n_images),
            ]
            for m, v in zs.models.items()
        ]
        lines += [f"Zero-shot classification of `{name}` images against the `{zs.class_list}` list:", ""]
        lines += _table(["model", "top-1", "top-5", "chance top-1", "images"], zrows)
    return lines


def _study(layout: RunLayout) -> list[str]:
    """The general-domain base and the ablation study (the demo's study stage)."""
    if not layout.study_json.is_file():
        return []
    study = json.loads(layout.study_json.read_text())
    ret = load_results(study["results"]).retrieval
    lines = [
        "## The general-domain base and PAPERCLIP's ablation study",
        "",
        "`base` is lit-mini's general-domain base (projections aligned through ImageNet's classes, no "
        "astronomy); `scratch` the same towers with random projections. On scikit-image's everyday photos:",
        "",
        *_table(
            [
                "model",
                "photos with a right ImageNet class in the top 5",
                "descriptions that find their photo",
            ],
            [
                [name, f"{g['class_hits']}/{g['class_photos']}", f"{g['text_to_photo']}/{g['n_photos']}"]
                for name, g in study["general_domain"].items()
            ],
        ),
    ]
    for subset, block in ret.models["base"]["image_to_text"].items():
        if not block.same_source or block.n_candidates < 10:
            continue
        lines.append(
            f"On astronomy the base is near chance: {subset} image → text acc@10% (same-source, "
            f"{block.n_candidates} candidates) {block.format('acc@10%')} "
            f"against chance {block.chance['acc@10%']:.3f}."
        )
    links = [f"[study table]({_rel(layout.study_table, layout)})"]
    if layout.crossval_table.is_file():
        links.append(f"[Stellarium cross-validation]({_rel(layout.crossval_table, layout)})")
    lines += ["", f"Full tables: {', '.join(links)}; the figure is `study` below.", ""]
    return lines


def _judge(layout: RunLayout) -> list[str]:
    res = _load(layout.judge_results)
    return ["## LLM-judged relevance (PAPERCLIP's judge)", "", *render_lines(res)] if res else []


def _estimate(d: dict) -> str:
    return Estimate.from_dict(d).format()


def _retrieval(layout: RunLayout) -> list[str]:
    res = _load(layout.rerank_results)
    if not res:
        return []
    k = res["k"]
    conf = round(100 * res["bootstrap"]["confidence"])
    lines = [
        "## Object retrieval",
        "",
        f"MAP@{k} / NDCG@{k} on held-out queries (grades ≥ {res['relevant_grade']} relevant), "
        f"each with its {conf}% bootstrap interval over queries; `n/a`: the system does not apply "
        "to that query type. Held-out text queries concern held-out constellations or types "
        "(`hubbleclip.search.queries`).",
        "",
    ]
    rows, diff_rows = [], []
    for group in res["groups"]:
        entry = res["intervals"]["test"].get(group)
        if not entry or not res["counts"]["test"].get(group):
            continue
        n = str(res["counts"]["test"][group])
        rows += [
            [
                group,
                n,
                metric.upper(),
                *("n/a" if entry[s] is None else _estimate(entry[s][metric]) for s in res["systems"]),
            ]
            for metric in (f"map@{k}", f"ndcg@{k}")
        ]
        diff_rows += [
            [group, n, name, *(_estimate(est[m]) for m in (f"map@{k}", f"ndcg@{k}"))]
            for name, est in res["differences"]["test"][group].items()
        ]
    lines += _table(["query type", "queries", "metric", *res["systems"]], rows)
    lines += ["Paired differences on the same resampled held-out queries:", ""]
    lines += _table(["query type", "queries", "difference", f"MAP@{k}", f"NDCG@{k}"], diff_rows)
    lines += [
        "Targets (true when the paired interval lies above 0 for both metrics): "
        f"{', '.join(f'{key} = {val}' for key, val in res['targets'].items())}.",
        "",
    ]
    return lines


def _query_kinds(layout: RunLayout) -> list[str]:
    if not layout.kinds_results.is_file():
        return []
    res = KindsResults.load(layout.kinds_results)
    test = res.metrics["test"]
    systems = list(SYSTEMS)
    rows = [
        [
            kind,
            str(res.counts["test"][kind]),
            *(test[kind].estimates[s]["top1"].format() for s in systems),
            *(test[kind].estimates[s][f"map@{res.k}"].format() for s in systems),
        ]
        for kind in res.kinds
        if test.get(kind)
    ]
    header = ["kind", "queries", *(f"top-1 {s}" for s in systems), *(f"MAP@{res.k} {s}" for s in systems)]
    exact = res.exact_name_first
    passed = sum(x["passed"][RESOLVER_FIRST] for x in res.examples)
    return [
        "### Query kinds: names, typos, positions, near, brightness, fields, common names, genitives, "
        "ra=/dec=",
        "",
        f"Generated held-out queries of each kind; top-1 and MAP@{res.k} with 95% bootstrap intervals. "
        f"`{RANKER_ONLY}`: the learned ranker alone; `{RESOLVER_FIRST}`: the resolver stage first.",
        "",
        *_table(header, rows),
        f"Exact name first: {exact['queries'] - len(exact['violations'])} of {exact['queries']} name "
        f"queries. Example queries answered as expected: {passed} of {len(res.examples)}.",
        "",
    ]


def _similarity(layout: RunLayout) -> list[str]:
    res = _load(layout.similar_json)
    if not res:
        return []
    lines = ["## Image similarity", "", f"Encoder `{res['encoder']}`."]
    for q in res["queries"]:
        types = [n["type"] for n in q["neighbours"][:5]]
        lines.append(
            f"- **{q['query']}** ({q['query_item']['type']}): nearest types {types}; "
            f"{len(q['clusters'])} quick-select clusters of sizes {[c['size'] for c in q['clusters']]}."
        )
    return lines + [""]


def write_report(layout: RunLayout, figures: dict[str, list[Path]]) -> Path:
    lines = [
        "# hubbleclip demo report",
        "",
        "Generated by `hubbleclip demo` from the results files in this directory; "
        "no number here is typed by hand.",
        "",
    ]
    for section in (
        _skyset,
        _captions,
        _training,
        _compare,
        _judge,
        _study,
        _retrieval,
        _query_kinds,
        _similarity,
    ):
        lines += section(layout)
    if figures:
        lines += ["## Figures", ""]
        for name, paths in figures.items():
            png = next(p for p in paths if Path(p).suffix == ".png")
            lines += [f"### {name.replace('_', ' ')}", "", f"![{name}]({_rel(Path(png), layout)})", ""]
    # every finished stage left RUN_DIR/<stage>/done.json; list them in the order they finished
    done = sorted(
        ((p.parent.name, json.loads(p.read_text())) for p in layout.run_dir.glob("*/done.json")),
        key=lambda item: item[1]["finished"],
    )
    timed = [[name, f"{d['seconds']:.1f}"] for name, d in done]
    if timed:
        lines += ["## Stage timings (when each stage last ran)", ""] + _table(["stage", "seconds"], timed)
    return atomic_write_text(layout.report, "\n".join(lines) + "\n")
