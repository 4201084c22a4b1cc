"""Captions per second of a local model, today's path against the default path, in one run.

``old``: the path before the shared-prefix change, as ``captions generate`` ran it by default: one
process, every prompt prefilled in full, left-padded batches of 8 in input order.  ``new``:
exactly what ``captions generate`` does by default now (:class:`CaptionsConfig`'s defaults:
``workers`` model processes, the rules and worked examples every prompt shares computed once per
process (:mod:`hubbleclip.captions.backends.prefix`), batches of texts of similar length).  Both
caption the same texts with a fresh cache; model loading and a one-text warm-up per process are
timed apart and not counted in the rates.  Retries sample per text (seeded from the prompt) on both
paths, so the two write the same captions and their quality compares exactly.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from hubbleclip.captions.backends import DEFAULT_SPEC, resolve_spec
from hubbleclip.captions.cache import CaptionCache
from hubbleclip.captions.check import caption_quality
from hubbleclip.captions.config import CaptionsConfig
from hubbleclip.captions.generate import RunSettings, caption_texts, open_executor
from hubbleclip.captions.inputs import dataset_texts, is_table, load_dataset_dict, read_table
from hubbleclip.captions.pipeline import run_settings

OLD_BATCH = 8  # captions generate's default batch size before this change


def path_settings(model: str) -> dict[str, RunSettings]:
    """The old and the new path's settings."""
    new = run_settings(CaptionsConfig(model=model))
    old = dataclasses.replace(new, batch_size=OLD_BATCH, workers=1, prefix_cache=False, sort_by_length=False)
    return {"old": old, "new": new}


def benchmark(dataset: str, model: str = DEFAULT_SPEC, n: int = 32, threads: int = 2) -> dict[str, Any]:
    """Caption the same ``n`` texts with the old and the new path; the new path's speed-up is its
    captions/s over the old path's."""
    import torch

    texts = (
        list(dict.fromkeys(r["text"] for r in read_table(dataset)))
        if is_table(dataset)
        else dataset_texts(load_dataset_dict(dataset))
    )[:n]
    spec = resolve_spec(model)
    runs: dict[str, dict[str, Any]] = {}
    captions: dict[str, dict[str, str]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, settings in path_settings(model).items():
            task = settings.caption_task()
            # the old path's threads; worker processes split the CPU as captions generate does
            torch.set_num_threads(threads)
            t0 = time.perf_counter()
            executor = open_executor(spec, task, settings, warm_text=texts[0])
            load_s = time.perf_counter() - t0
            try:
                results, stats = caption_texts(
                    texts, CaptionCache(Path(tmp) / f"{label}.jsonl"), spec, settings, executor=executor
                )
            finally:
                executor.shutdown(cancel_futures=True)
            ok = {t: r["caption"] for t, r in results.items() if r["status"] == "ok"}
            captions[label] = ok
            runs[label] = {
                "settings": {
                    "batch_size": settings.batch_size,
                    "workers": settings.workers,
                    "prefix_cache": settings.prefix_cache,
                    "sort_by_length": settings.sort_by_length,
                },
                "load_and_warmup_s": round(load_s, 1),
                **stats.as_dict(),
                "quality": caption_quality(ok.items()),
            }
    base = runs["old"]["captions_per_second"]
    new = runs["new"]
    new["speedup_vs_old"] = round(new["captions_per_second"] / base, 2) if base else None
    new["same_captions_as_old"] = sum(captions["new"].get(t) == c for t, c in captions["old"].items())
    return {
        "model": spec.name,
        "texts": len(texts),
        "cpu_count": os.cpu_count(),
        "threads": threads,
        "runs": runs,
        "examples": [(t[:70], c) for t, c in list(captions["old"].items())[:3]],
    }
