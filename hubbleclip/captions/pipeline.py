"""``captions generate`` and ``captions check`` as library calls."""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hubbleclip.captions.backends import Sampling, resolve_spec
from hubbleclip.captions.cache import CaptionCache, default_cache
from hubbleclip.captions.check import caption_quality, generation_stats
from hubbleclip.captions.config import CaptionsConfig, ServedConfig
from hubbleclip.captions.generate import RunSettings, caption_texts
from hubbleclip.captions.inputs import (
    COLUMN,
    dataset_texts,
    default_output,
    is_table,
    load_dataset_dict,
    read_table,
    write_dataset,
    write_table,
)
from hubbleclip.errors import UserError

log = logging.getLogger(__name__)


def served_config(cfg: ServedConfig) -> ServedConfig:
    """The served-model fields of a config that extends ServedConfig."""
    return ServedConfig(**{f.name: getattr(cfg, f.name) for f in dataclasses.fields(ServedConfig)})


def run_settings(cfg: CaptionsConfig) -> RunSettings:
    if cfg.batch_size < 1 or cfg.workers < 1 or cfg.retries < 0:
        raise UserError("batch_size and workers must be >= 1 and retries >= 0")
    return RunSettings(
        batch_size=cfg.batch_size,
        retries=cfg.retries,
        workers=cfg.workers,
        retry_failed=cfg.retry_failed,
        max_items=cfg.max_items,
        sampling=Sampling(max_new_tokens=cfg.max_new_tokens),
        served=served_config(cfg),
        prefix_cache=cfg.prefix_cache,
    )


def generate_captions(
    cfg: CaptionsConfig, backend=None, select: Callable[[list[str]], list[str]] | None = None
) -> dict[str, Any]:
    """Caption a dataset or table and write it out; returns the run report.

    ``backend`` (a ready Backend) replaces loading ``cfg.model``, e.g. for a custom LLM client;
    ``select`` picks the texts to caption from all distinct texts (default: the first ``limit``).
    """
    import torch

    torch.set_num_threads(max(1, cfg.threads))
    settings = run_settings(cfg)
    out = Path(cfg.out) if cfg.out else default_output(cfg.dataset)
    cache = CaptionCache(cfg.cache or default_cache(cfg.dataset))
    if is_table(cfg.dataset):
        rows = read_table(cfg.dataset)
        texts = list(dict.fromkeys(row["text"] for row in rows))
    else:
        dd = load_dataset_dict(cfg.dataset)
        texts = dataset_texts(dd)
    if select is not None:
        selected = select(texts)
    else:
        selected = texts[: cfg.limit] if cfg.limit is not None else texts
    results, stats = caption_texts(selected, cache, backend or resolve_spec(cfg.model), settings)
    captions = {t: r["caption"] for t, r in results.items() if r["status"] == "ok"}
    report = {
        "model": backend.name if backend else resolve_spec(cfg.model).name,
        "prompt_version": settings.prompt_key(),
        "distinct_texts": len(texts),
        "selected": len(selected),
        "llm_captions": len(captions),
        "failed": sum(r["status"] == "failed" for r in results.values()),
        "cache": str(cache.path),
        "run": stats.as_dict(),
    }
    if is_table(cfg.dataset):
        for row in rows:
            record = results.get(row["text"])
            row[COLUMN] = captions.get(row["text"], row.get("caption", ""))
            row["status"] = record["status"] if record else "skipped"
        write_table(out, rows)
    else:
        write_dataset(dd, out, captions, report, cfg.dataset)
    report["out"] = str(out)
    return report


def check_captions(path: str | Path, column: str = COLUMN, cache: str | Path | None = None) -> dict[str, Any]:
    """Quality report for the LLM captions in a dataset or table, with the template captions of
    the same rows as a baseline, and generation statistics from the cache."""
    if is_table(path):
        rows = read_table(path)
        if rows and column not in rows[0]:
            raise UserError(f"{path}: no '{column}' column; run `hubbleclip captions generate` first")
        pairs = {r["text"]: r[column] for r in rows if r.get(column)}
        baseline = {}
    else:
        dd = load_dataset_dict(path)
        pairs, baseline = {}, {}
        for split, ds in dd.items():
            if column not in ds.column_names:
                raise UserError(
                    f"{path} split {split}: no '{column}' column; run `hubbleclip captions generate` first"
                )
            for text, llm, template in zip(ds["text"], ds[column], ds["caption"]):
                if llm and llm != template:  # rows without an LLM caption carry the template one
                    pairs[text] = llm
                    baseline[text] = template
    report: dict[str, Any] = {"path": str(path), "column": column, "llm": caption_quality(pairs.items())}
    if baseline:
        report["template_baseline"] = caption_quality(baseline.items())
    if cache is None:  # the cache `generate` used, as its report recorded it
        saved = Path(path) / "captions_report.json"
        cache = json.loads(saved.read_text())["cache"] if saved.is_file() else default_cache(path)
    cache_path = Path(cache)
    if cache_path.is_file():
        records = CaptionCache(cache_path).entries
        report["generation"] = generation_stats(records.values())
        report["generation"]["cache"] = str(cache_path)
    return report
