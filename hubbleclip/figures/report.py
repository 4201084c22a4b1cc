"""``RUN_DIR/REPORT.md``: what the demo did, with every number read from the results files."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from hubbleclip.figures import study
from hubbleclip.io import atomic_write_text
from hubbleclip.judge.report import render_lines
from hubbleclip.metrics import format_estimate


def _load(path: Path) -> Any | None:
    return json.loads(path.read_text()) if path.is_file() else None


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(r) + " |" for r in rows),
        "",
    ]


def _rel(path: Path, run_dir: Path) -> str:
    return os.path.relpath(path, run_dir)


def _skyset(run_dir: Path) -> list[str]:
    done = _load(run_dir / "skyset" / "done.json")
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


def _captions(run_dir: Path) -> list[str]:
    gen = _load(run_dir / "captions" / "generation.json")
    quality = _load(run_dir / "captions" / "quality.json")
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


def _training(run_dir: Path) -> list[str]:
    done = _load(run_dir / "train" / "done.json")
    metrics = run_dir / "train" / "metrics.jsonl"
    if not done or not metrics.is_file():
        return []
    records = [json.loads(line) for line in metrics.read_text().splitlines() if line.strip()]
    val = [r for r in records if "val_loss" in r]
    start = next((r for r in records if r.get("event") == "start"), {})
    lines = [
        "## Fine-tuning",
        "",
        f"Run `{_rel(run_dir / 'train', run_dir)}`: {start.get('trainable_params', '?')} trainable of "
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


def _compare(run_dir: Path) -> list[str]:
    res = _load(run_dir / "compare" / "results.json")
    if not res:
        return []
    lines = [
        "## Base vs fine-tuned",
        "",
        f"Split `{res['dataset']['split']}`: {res['dataset']['n_images']} images, "
        f"{res['dataset']['n_texts']} distinct "
        "captions. Values are the statistic with its 95% bootstrap interval; "
        "`random` is the chance baseline. "
        f"Full tables: [{_rel(run_dir / 'compare' / 'results.md', run_dir)}](compare/results.md).",
        "",
    ]
    models = res["retrieval"]["models"]
    rows = []
    for direction in ("image_to_text", "text_to_image"):
        for subset, first in next(iter(models.values()))[direction].items():
            # acc@1% is 0 by definition below 100 candidates (⌊N/100⌋ = 0), so R@1 stands in for it
            for metric in ("R@1", "acc@10%", "R@10", "type_R@1"):
                rows.append(
                    [
                        direction.replace("_to_", "→"),
                        f"{subset} ({first.get('candidates', 'pooled').replace('_', '-')})",
                        str(first["n_queries"]),
                        str(first["n_candidates"]),
                        metric,
                        *(format_estimate(models[m][direction][subset]["metrics"][metric]) for m in models),
                    ]
                )
    lines += _table(["direction", "queries", "n", "candidates", "metric", *models], rows)
    for name, zs in res.get("zero_shot", {}).items():
        zrows = [
            [
                m,
                format_estimate(v["metrics"]["top1"]),
                format_estimate(v["metrics"]["top5"]),
                f"{v['chance']['top1']:.3f}",
                str(v["n_images"]),
            ]
            for m, v in zs["models"].items()
        ]
        lines += [f"Zero-shot classification of `{name}` images against the `{zs['class_list']}` list:", ""]
        lines += _table(["model", "top-1", "top-5", "chance top-1", "images"], zrows)
    return lines


def _judge(run_dir: Path) -> list[str]:
    res = _load(run_dir / "judge" / "results.json")
    return ["## LLM-judged relevance (PAPERCLIP's judge)", "", *render_lines(res)] if res else []


def _retrieval(run_dir: Path) -> list[str]:
    res = _load(run_dir / "retrieval" / "rerank" / "results.json")
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
                *("n/a" if entry[s] is None else format_estimate(entry[s][metric]) for s in res["systems"]),
            ]
            for metric in (f"map@{k}", f"ndcg@{k}")
        ]
        diff_rows += [
            [group, n, name, *(format_estimate(est[m]) for m in (f"map@{k}", f"ndcg@{k}"))]
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


def _query_kinds(run_dir: Path) -> list[str]:
    res = _load(run_dir / "retrieval" / "kinds" / "results.json")
    if not res:
        return []
    k, test, systems = res["k"], res["metrics"]["test"], res["systems"]
    rows = [
        [
            kind,
            str(res["counts"]["test"][kind]),
            *(format_estimate(test[kind][s]["top1"]) for s in systems),
            *(format_estimate(test[kind][s][f"map@{k}"]) for s in systems),
        ]
        for kind in res["kinds"]
        if test.get(kind)
    ]
    header = ["kind", "queries", *(f"top-1 {s}" for s in systems), *(f"MAP@{k} {s}" for s in systems)]
    exact = res["exact_name_first"]
    passed = sum(x["passed"]["new"] for x in res["examples"])
    return [
        "### Query kinds: names, typos, positions, near, brightness",
        "",
        f"Generated held-out queries of each kind; top-1 and MAP@{k} with 95% bootstrap intervals. "
        "`today`: the learned ranker alone; `new`: the resolver stage first.",
        "",
        *_table(header, rows),
        f"Exact name first: {exact['queries'] - len(exact['violations'])} of {exact['queries']} name "
        f"queries. Example queries answered as expected: {passed} of {len(res['examples'])}.",
        "",
    ]


def _similarity(run_dir: Path) -> list[str]:
    res = _load(run_dir / "similarity" / "similar.json")
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


def write_report(run_dir: Path, figures: dict[str, list[Path]]) -> Path:
    run_dir = Path(run_dir)
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
        study.report_section,
        _retrieval,
        _query_kinds,
        _similarity,
    ):
        lines += section(run_dir)
    if figures:
        lines += ["## Figures", ""]
        for name, paths in figures.items():
            png = next(p for p in paths if Path(p).suffix == ".png")
            lines += [f"### {name.replace('_', ' ')}", "", f"![{name}]({_rel(Path(png), run_dir)})", ""]
    # every finished stage left RUN_DIR/<stage>/done.json; list them in the order they finished
    done = sorted(
        ((p.parent.name, json.loads(p.read_text())) for p in run_dir.glob("*/done.json")),
        key=lambda item: item[1]["finished"],
    )
    timed = [[name, f"{d['seconds']:.1f}"] for name, d in done]
    if timed:
        lines += ["## Stage timings (when each stage last ran)", ""] + _table(["stage", "seconds"], timed)
    return atomic_write_text(run_dir / "REPORT.md", "\n".join(lines) + "\n")
