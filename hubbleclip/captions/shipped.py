"""The shipped captions: every distinct text of the skyset's imaged rows, captioned once with the
default model, as a versioned resource keyed exactly as the cache is (model, prompt version +
settings, SHA-256 of the text).

``hubbleclip captions ship --dataset data/skyset`` regenerates it (resumable: ``--chunk N``
captions the next N texts per call, through the dataset's caption cache); the demo seeds the
cache from it, so a fresh clone trains on LLM captions for every imaged row without paying for
them.  A record only applies when its key matches: another model, prompt version or text simply
misses and is captioned live.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import logging
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from hubbleclip.captions.backends import resolve_spec
from hubbleclip.captions.cache import CaptionCache, cache_key, default_cache
from hubbleclip.captions.config import CaptionsConfig
from hubbleclip.captions.generate import caption_texts
from hubbleclip.captions.inputs import imaged_texts, load_dataset_dict
from hubbleclip.captions.pipeline import generate_captions, run_settings
from hubbleclip.io import atomic_write_bytes, atomic_write_json

log = logging.getLogger(__name__)

RESOURCE_DIR = Path(__file__).resolve().parent.parent / "resources" / "captions"
RESOURCE_NAME = "skyset-captions.jsonl.gz"
# what a shipped record keeps of a cache record (no raw output, no per-attempt errors)
FIELDS = ("key", "model", "prompt_version", "text_sha256", "status", "caption", "attempts", "seconds")


def resource_path(directory: str | Path | None = None) -> Path:
    return Path(directory or RESOURCE_DIR) / RESOURCE_NAME


def read_shipped(path: str | Path | None = None) -> list[dict[str, Any]]:
    """Records of the shipped resource (empty when it is absent)."""
    path = Path(path) if path else resource_path()
    if not path.is_file():
        return []
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def seed_cache(cache: CaptionCache, path: str | Path | None = None) -> int:
    """Add the shipped records the cache lacks (one write); returns how many were added."""
    new = [r for r in read_shipped(path) if cache.get(r["key"]) is None]
    cache.put_many(new)
    if new:
        log.info("seeded %s with %d shipped captions", cache.path, len(new))
    return len(new)


def ship_captions(
    cfg: CaptionsConfig,
    chunk: int | None = None,
    directory: str | Path | None = None,
    backend=None,
    partial: bool = False,
) -> dict[str, Any]:
    """Caption the next ``chunk`` uncached imaged texts (all when None; with ``cfg.retry_failed``,
    the failed ones count as uncached); once every imaged text has a cached result (or with
    ``partial``, whatever is cached so far), write the resource and its manifest.  Returns a
    progress report.  ``backend`` (a ready Backend) replaces loading ``cfg.model``."""
    import torch

    if chunk is not None and chunk < 0:
        raise ValueError(f"--chunk must be >= 0, got {chunk}")
    torch.set_num_threads(max(1, cfg.threads))
    settings = run_settings(cfg)
    model = backend or resolve_spec(cfg.model)
    key = settings.prompt_key()
    texts = imaged_texts(load_dataset_dict(cfg.dataset))
    cache = CaptionCache(cfg.cache or default_cache(cfg.dataset))
    cached = {t: cache.get(cache_key(model.name, key, t)) for t in texts}
    todo = [t for t, r in cached.items() if r is None or (cfg.retry_failed and r["status"] != "ok")]
    batch = todo if chunk is None else todo[:chunk]
    start = time.perf_counter()
    _, stats = caption_texts(batch, cache, model, settings)
    remaining = len(todo) - len(batch)
    report: dict[str, Any] = {
        "model": model.name,
        "prompt_version": key,
        "imaged_texts": len(texts),
        "captioned_now": len(batch),
        "remaining": remaining,
        "run": stats.as_dict(),
        "seconds": round(time.perf_counter() - start, 1),
    }
    if remaining and not partial:
        return report
    records = [cache.get(cache_key(model.name, key, t)) for t in texts]
    shipped = [{f: r.get(f) for f in FIELDS} for r in records if r is not None]
    body = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in shipped)
    path = resource_path(directory)
    # mtime=0: the same captions give the same bytes
    atomic_write_bytes(path, gzip.compress(body.encode("utf-8"), mtime=0))
    manifest = {
        "format": "hubbleclip-shipped-captions",
        "version": 1,
        "model": model.name,
        "prompt_version": key,
        "texts": len(shipped),
        "imaged_texts": len(texts),
        "complete": not remaining,
        "ok": sum(r["status"] == "ok" for r in shipped),
        "failed": sum(r["status"] == "failed" for r in shipped),
        "dataset": str(cfg.dataset),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": "hubbleclip captions ship --dataset data/skyset --chunk 500 (repeat until it writes), "
        "then the same with --retry_failed true --retries 8",
    }
    atomic_write_json(path.with_name("skyset-captions.json"), manifest)
    report.update(resource=str(path), ok=manifest["ok"], failed=manifest["failed"])
    return report


def generate_with_shipped(
    cfg: CaptionsConfig, live: int, path: str | Path | None = None, backend=None
) -> dict[str, Any]:
    """Seed the dataset's cache with the shipped captions, then write ``caption_llm`` for every
    text the cache covers plus ``live`` texts it does not (imaged rows first), which the LLM
    captions now: the real generation path runs on every call, at a bounded cost."""
    if live < 0:
        raise ValueError(f"live must be >= 0, got {live}")
    cache_path = cfg.cache or default_cache(cfg.dataset)
    seeded = seed_cache(CaptionCache(cache_path), path)
    cache = CaptionCache(cache_path)
    name, key = (backend or resolve_spec(cfg.model)).name, run_settings(cfg).prompt_key()
    chosen: dict[str, int] = {}

    def select(texts: list[str]) -> list[str]:
        covered = [t for t in texts if cache.get(cache_key(name, key, t)) is not None]
        shipped = {r["key"] for r in read_shipped(path)}
        chosen["from_shipped"] = sum(cache_key(name, key, t) in shipped for t in covered)
        extra = [t for t in texts if cache.get(cache_key(name, key, t)) is None][:live]
        chosen["live"] = len(extra)
        return covered + extra

    report = generate_captions(dataclasses.replace(cfg, cache=str(cache_path)), backend, select=select)
    report["shipped"] = {
        "seeded_now": seeded,
        "used": chosen["from_shipped"],
        "resource": str(path or resource_path()),
    }
    report["live_texts"] = chosen["live"]
    return report
