"""Markdown for judge results (``results.md`` and the demo's REPORT.md section)."""

from __future__ import annotations

from typing import Any

from hubbleclip.metrics.bootstrap import Estimate
from hubbleclip.metrics.render import markdown_table


def _cell(est: dict[str, float]) -> str:
    return Estimate.from_dict(est).format()


def render_lines(results: dict[str, Any]) -> list[str]:
    judge = results["judge"]
    # results written before the bootstrap settings were stored kept only the level
    level = round(100 * results.get("bootstrap", results)["confidence"])
    lines = [
        f"Judge `{judge['model']}` (prompt `{judge['prompt_version']}`, yes/no schema) on the "
        f"top-{results['k']} {results['dataset']['split']} images of {results['queries_used']} text queries "
        "per model; "
        f"fraction judged relevant, mean over queries with {level}% bootstrap intervals:",
        "",
    ]
    catalog = all("catalog_relevant" in m for m in results["models"].values())
    header = ["model", "judged relevant"] + (["catalog-relevant (grade ≥ 4)"] if catalog else [])
    rows = [
        [name, _cell(m["judged_relevant"])] + ([_cell(m["catalog_relevant"])] if catalog else [])
        for name, m in results["models"].items()
    ]
    for key, est in results["differences"].items():
        pair, what = key.split("/")
        if what == "judged":
            other = results["differences"].get(f"{pair}/catalog")
            rows.append([f"difference {pair}", _cell(est)] + ([_cell(other)] if catalog and other else []))
    lines += [markdown_table(header, rows), ""]
    agreement = results.get("agreement_with_catalog")
    if agreement:
        kappa = "n/a" if agreement["cohen_kappa"] is None else f"{agreement['cohen_kappa']:.3f}"
        lines += [
            f"Agreement with the catalog-derived relevance on {agreement['pairs']} judged (query, text) "
            f"pairs: {agreement['agreement']:.3f} (Cohen's κ {kappa}); the judge says yes to "
            f"{agreement['judge_yes_rate']:.3f} of them, the catalog to {agreement['catalog_yes_rate']:.3f}.",
            "",
        ]
    gen = results["judgements"]
    lines += [
        f"{gen['records']} distinct judgements, {gen['valid_first_try_rate']} valid on the first try, "
        f"{gen['failed']} failed; {results['generation']['cached']} from the cache in this run.",
        "",
    ]
    return lines


def render_markdown(results: dict[str, Any]) -> str:
    return "\n".join(["# LLM-judged text→image relevance", "", *render_lines(results)])
