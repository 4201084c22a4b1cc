"""Captions per second for a model on this machine, per batch size, against batch size 1."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from hubbleclip.captions.backends import DEFAULT_SPEC, Sampling, load_backend
from hubbleclip.captions.cache import CaptionCache
from hubbleclip.captions.check import caption_quality
from hubbleclip.captions.generate import RunSettings, caption_texts
from hubbleclip.captions.inputs import dataset_texts, is_table, load_dataset_dict, read_table


def benchmark(
    dataset: str,
    model: str = DEFAULT_SPEC,
    n: int = 16,
    batch_sizes: tuple[int, ...] = (1, 8),
    max_items: int = 3,
    retries: int = 2,
) -> dict[str, Any]:
    """Caption the same ``n`` texts once per batch size (fresh cache each time).

    The first call of a backend also builds outlines' index for the schema; a one-text warm-up
    keeps that out of the rates and is reported as ``warmup_s``.
    """
    texts = (
        list(dict.fromkeys(r["text"] for r in read_table(dataset)))
        if is_table(dataset)
        else dataset_texts(load_dataset_dict(dataset))
    )[:n]
    t0 = time.perf_counter()
    backend = load_backend(model, max_items=max_items, sampling=Sampling())
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    backend.generate([[{"role": "user", "content": "warm-up"}]], 0)
    warmup_s = time.perf_counter() - t0
    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        for bs in batch_sizes:
            cache = CaptionCache(Path(tmp) / f"bs{bs}.jsonl")
            results, stats = caption_texts(
                texts, cache, backend, RunSettings(batch_size=bs, retries=retries, max_items=max_items)
            )
            ok = {t: r["caption"] for t, r in results.items() if r["status"] == "ok"}
            runs[bs] = {
                **stats.as_dict(),
                "quality": caption_quality(ok.items()),
                "examples": [(t[:70], c) for t, c in list(ok.items())[:3]],
            }
    base = runs[batch_sizes[0]]["captions_per_second"]
    for run in runs.values():
        run["speedup_vs_first"] = round(run["captions_per_second"] / base, 2) if base else None
    return {
        "model": backend.name,
        "texts": len(texts),
        "load_s": round(load_s, 1),
        "warmup_s": round(warmup_s, 1),
        "runs": runs,
    }
