"""``hubbleclip judge`` as a library call: top-k images per query and model, judged by an LLM.

The judgements go through the caption step's generation loop (:func:`caption_texts` with the
judge task), so they are batched, retried, cached per (LLM, judge prompt, query + text) and
resumed exactly like captions; a (query, image text) pair that several models retrieve is judged
once.  Intervals resample queries, paired across models.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import math
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hubbleclip.captions.backends import Sampling, resolve_spec
from hubbleclip.captions.cache import CaptionCache
from hubbleclip.captions.check import generation_stats
from hubbleclip.captions.generate import RunSettings, caption_texts
from hubbleclip.captions.pipeline import served_config
from hubbleclip.data.load import load_split
from hubbleclip.errors import UserError
from hubbleclip.evaluation.evalset import build_eval_set
from hubbleclip.evaluation.job import parse_models
from hubbleclip.io import atomic_write_json, atomic_write_text, cache_root
from hubbleclip.judge.config import JudgeConfig
from hubbleclip.judge.prompt import judge_item, judge_task
from hubbleclip.judge.report import render_markdown
from hubbleclip.metrics.agreement import binary_agreement
from hubbleclip.metrics.compare import compare_systems
from hubbleclip.metrics.graded import RELEVANT_GRADE
from hubbleclip.models.embed import embed_images, embed_texts
from hubbleclip.models.feature_cache import FeatureCache, feature_cache
from hubbleclip.models.loader import load_model
from hubbleclip.runs import setup_run_dir
from hubbleclip.search.queries import load_queries

log = logging.getLogger(__name__)


def load_judge_queries(
    cfg: JudgeConfig, split_objects: set[str] | None = None
) -> list[tuple[str, dict[str, int] | None]]:
    """(query text, catalog judgements or None) for the configured query set.  With
    ``split_objects`` (the object ids of the searched images) and ``cfg.require_relevant``, only
    queries with a catalog-relevant object among them; ``cfg.max_queries`` takes them from each
    kind in turn, so a short run still covers every kind."""
    path = Path(cfg.queries)
    if cfg.queries != "builtin" and path.suffix.lower() == ".txt":
        if not path.is_file():
            raise FileNotFoundError(f"--queries {path} does not exist")
        queries: list[tuple[str, dict[str, int] | None]] = [
            (line.strip(), None) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
        ]
        kinds = ["txt"] * len(queries)
    else:
        loaded = [
            q
            for q in load_queries(None if cfg.queries == "builtin" else path)
            if (cfg.query_split is None or q.split == cfg.query_split) and (q.kind in cfg.query_kinds)
        ]
        if split_objects is not None and cfg.require_relevant:
            loaded = [q for q in loaded if q.relevant_objects & split_objects]
        queries = [(q.text, q.judgments) for q in loaded]
        kinds = [q.kind for q in loaded]
    if cfg.max_queries is not None:
        by_kind: dict[str, list[int]] = {}
        for i, kind in enumerate(kinds):
            by_kind.setdefault(kind, []).append(i)
        turns = [i for group in itertools.zip_longest(*by_kind.values()) for i in group if i is not None]
        queries = [queries[i] for i in turns[: cfg.max_queries]]
    if not queries:
        raise UserError(
            f"--queries {cfg.queries}: no query left after the split/kind selection"
            + (
                " and the catalog-relevant filter (--require_relevant false keeps them)"
                if cfg.require_relevant
                else ""
            )
        )
    return queries


def default_judge_cache(dataset: str | Path) -> Path:
    """``$HUBBLECLIP_CACHE/judge/NAME-DIGEST.jsonl``: one file per dataset, keyed by its resolved path
    so that two datasets of the same name do not share one."""
    path = Path(dataset).resolve()
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:12]
    return cache_root("judge", f"{path.name}-{digest}.jsonl")


def _top_images(
    specs: dict[str, str], k: int, eval_set, queries: list[str], cache: FeatureCache
) -> dict[str, np.ndarray]:
    """{model name: [queries, k] row indices of the eval set's images, best first}."""
    k = min(k, eval_set.n_images)
    images = eval_set.encoded_images()
    top = {}
    for name, spec in specs.items():
        model = load_model(spec)
        sims = embed_texts(model, queries, cache=cache) @ embed_images(model, images, cache=cache).T
        top[name] = np.argsort(-sims, axis=1, kind="stable")[:, :k]
        del model
    return top


def run_judge(cfg: JudgeConfig, backend=None) -> dict[str, Any]:
    """Judge, write ``OUT/results.json`` and ``results.md``, return the results.  ``backend`` (a
    ready Backend constrained to the judge schema) replaces loading ``cfg.model``."""
    torch.set_num_threads(max(1, cfg.threads))
    if cfg.k < 1 or cfg.text_chars < 1:
        raise UserError("k and text_chars must be >= 1")
    out = setup_run_dir(cfg.out, cfg)
    eval_set = build_eval_set(load_split(cfg.dataset, cfg.split), cfg.split)
    queries = load_judge_queries(cfg, {str(o) for o in eval_set.object_ids})
    meta = eval_set.images.select_columns(["id", "text"]).to_dict()
    image_ids, source_texts = meta["id"], meta["text"]
    specs = parse_models(cfg.models, random_baseline=False)
    top = _top_images(specs, cfg.k, eval_set, [q for q, _ in queries], feature_cache(cfg.cache_dir))

    items = {
        (qi, int(row)): judge_item(queries[qi][0], source_texts[row], cfg.text_chars, cfg.keep_numbers)
        for rows in top.values()
        for qi, ranked in enumerate(rows)
        for row in ranked
    }
    settings = RunSettings(
        batch_size=cfg.batch_size,
        workers=cfg.workers,
        retries=cfg.retries,
        sampling=Sampling(max_new_tokens=cfg.max_new_tokens),
        served=served_config(cfg),
    )
    task = judge_task(cfg.max_new_tokens)
    llm = backend or resolve_spec(cfg.model)
    cache = CaptionCache(cfg.cache or default_judge_cache(cfg.dataset))
    records, stats = caption_texts(list(items.values()), cache, llm, settings, task=task)

    def verdict(qi: int, row: int) -> float:
        record = records[items[(qi, row)]]
        return float(record["relevant"]) if record["status"] == "ok" else math.nan

    def catalog(qi: int, row: int) -> float:
        judgments = queries[qi][1]
        if judgments is None:
            return math.nan
        return float(judgments.get(str(eval_set.object_ids[row]), 1) >= RELEVANT_GRADE)

    judged = {
        n: np.array([[verdict(q, r) for r in rows] for q, rows in enumerate(t)]) for n, t in top.items()
    }
    cat = {n: np.array([[catalog(q, r) for r in rows] for q, rows in enumerate(t)]) for n, t in top.items()}
    # a query counts when every model has at least one valid judgement for it (paired intervals)
    keep = np.all([~np.isnan(v).all(axis=1) for v in judged.values()], axis=0)
    has_catalog = all(j is not None for _, j in queries)
    per_query = {
        n: {
            "judged": np.nanmean(v[keep], axis=1),
            **({"catalog": cat[n][keep].mean(axis=1)} if has_catalog else {}),
        }
        for n, v in judged.items()
    }
    # the first model is the reference of the paired differences
    comparison = compare_systems(per_query, bootstrap=cfg.bootstrap)

    # one (judge, catalog) pair per distinct judged item, the first image that showed it
    judged_items: dict[str, tuple[bool, bool]] = {}
    for t in top.values():
        for q, rows in enumerate(t):
            for r in rows:
                item = items[(q, int(r))]
                if records[item]["status"] == "ok" and queries[q][1] is not None:
                    judged_items.setdefault(item, (verdict(q, r) == 1.0, catalog(q, r) == 1.0))
    results: dict[str, Any] = {
        "judge": {"model": llm.name, "prompt_version": task.key, "schema": task.schema},
        "dataset": {"path": str(cfg.dataset), "split": cfg.split, "n_images": eval_set.n_images},
        "k": int(next(iter(top.values())).shape[1]),
        "queries": [q for q, _ in queries],
        "queries_used": int(keep.sum()),
        "bootstrap": asdict(cfg.bootstrap),
        "models": {
            n: {
                "spec": spec,
                "judged_relevant": comparison.estimates[n]["judged"].to_dict(),
                **({"catalog_relevant": comparison.estimates[n]["catalog"].to_dict()} if has_catalog else {}),
                "per_query_judged": [
                    None if math.isnan(x) else round(float(x), 3) for x in np.nanmean(judged[n], axis=1)
                ],
                "top_sources": dict(Counter(eval_set.sources[top[n].ravel()].tolist())),
                "top_images": [[str(image_ids[r]) for r in rows] for rows in top[n]],
            }
            for n, spec in specs.items()
        },
        "differences": {
            f"{n}-{comparison.reference}/{what}": est.to_dict()
            for n, per in comparison.differences.items()
            for what, est in per.items()
        },
        "agreement_with_catalog": binary_agreement(*zip(*judged_items.values())) if judged_items else None,
        "generation": {**stats.as_dict(), "cache": str(cache.path)},
        "judgements": generation_stats(records.values()),
    }
    atomic_write_json(out / "results.json", results)
    atomic_write_text(out / "results.md", render_markdown(results))
    return results
