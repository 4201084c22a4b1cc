"""Caption many texts: de-duplicate, skip what the cache has, batch, retry, record failures.

The main process owns the cache; with ``workers > 1`` each worker process loads its own copy of
the model (torch threads split between them) and only generates.  Nothing here raises on a bad
LLM output or a backend error: after ``retries`` extra attempts the text is recorded as failed.
"""

from __future__ import annotations

import collections
import concurrent.futures as cf
import dataclasses
import logging
import os
import time
from typing import Any

from hubbleclip.captions.backends import Backend, ModelSpec, Sampling, load_backend, resolve_spec
from hubbleclip.captions.cache import CaptionCache, cache_key, text_hash
from hubbleclip.captions.prompt import PROMPT_VERSION, chat_messages
from hubbleclip.captions.schema import parse_output
from hubbleclip.errors import UserError

log = logging.getLogger(__name__)


@dataclasses.dataclass
class RunSettings:
    batch_size: int = 8
    retries: int = 2
    workers: int = 1
    retry_failed: bool = False
    max_items: int = 3
    sampling: Sampling = Sampling()

    def prompt_key(self) -> str:
        """Everything besides the model and the text that changes the output."""
        return f"{PROMPT_VERSION}/items{self.max_items}/tok{self.sampling.max_new_tokens}"


@dataclasses.dataclass
class RunStats:
    texts: int = 0
    cached: int = 0
    generated: int = 0
    failed: int = 0
    valid_first_try: int = 0
    attempts: int = 0
    seconds: float = 0.0

    @property
    def captions_per_second(self) -> float:
        return (self.generated + self.failed) / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "captions_per_second": round(self.captions_per_second, 3)}


_WORKER: Backend | None = None


def _init_worker(spec: ModelSpec, max_items: int, sampling: Sampling, threads: int) -> None:
    import torch

    global _WORKER
    torch.set_num_threads(threads)
    _WORKER = load_backend(spec, max_items=max_items, sampling=sampling)


def _worker_generate(conversations: list[list[dict[str, str]]], attempt: int) -> list[str]:
    assert _WORKER is not None
    return _WORKER.generate(conversations, attempt)


class _InProcess:
    """The executor interface over one backend in this process (no threads: torch has its own)."""

    def __init__(self, backend: Backend):
        self.backend = backend

    def submit(self, fn, conversations, attempt) -> cf.Future:
        future: cf.Future = cf.Future()
        try:
            future.set_result(self.backend.generate(conversations, attempt))
        except Exception as exc:  # a backend error becomes a retry, never a crash
            future.set_exception(exc)
        return future

    def shutdown(self, **_) -> None:
        pass


def caption_texts(
    texts: list[str],
    cache: CaptionCache,
    model: str | ModelSpec | Backend,
    settings: RunSettings = RunSettings(),
) -> tuple[dict[str, dict[str, Any]], RunStats]:
    """Caption each distinct text once; returns {text: cache record} and run statistics.

    ``model`` is a spec (loaded only if some text is not cached) or a ready backend.
    """
    if isinstance(model, str):
        model = resolve_spec(model)
    name = model.name
    prompt_key = settings.prompt_key()
    unique = list(dict.fromkeys(texts))
    stats = RunStats(texts=len(unique))
    results: dict[str, dict[str, Any]] = {}
    todo = []
    for text in unique:
        record = cache.get(cache_key(name, prompt_key, text))
        if record and (record["status"] == "ok" or not settings.retry_failed):
            results[text] = record
            stats.cached += 1
        else:
            todo.append(text)
    if not todo:
        return results, stats
    log.info("captioning %d texts with %s (%d cached)", len(todo), name, stats.cached)
    start = time.perf_counter()
    executor = _executor(model, settings)
    try:
        _run(todo, executor, cache, name, prompt_key, settings, results, stats, start)
    finally:
        executor.shutdown(cancel_futures=True)
    stats.seconds = time.perf_counter() - start
    return results, stats


def _executor(model: ModelSpec | Backend, settings: RunSettings):
    if not isinstance(model, ModelSpec):
        return _InProcess(model)
    if settings.workers <= 1:
        return _InProcess(load_backend(model, max_items=settings.max_items, sampling=settings.sampling))
    import multiprocessing as mp

    threads = max(1, (os.cpu_count() or 1) // settings.workers)
    return cf.ProcessPoolExecutor(
        settings.workers,
        mp_context=mp.get_context("spawn"),
        initializer=_init_worker,
        initargs=(model, settings.max_items, settings.sampling, threads),
    )


def _run(todo, executor, cache, name, prompt_key, settings, results, stats, start) -> None:
    batch_size = max(1, settings.batch_size)
    errors: dict[str, list[str]] = {text: [] for text in todo}
    queue = collections.deque((todo[i : i + batch_size], 0) for i in range(0, len(todo), batch_size))
    pending: dict[cf.Future, tuple[list[str], int, float]] = {}
    # few batches in flight, so results reach the cache as they come (a crash loses little)
    in_flight = 2 * settings.workers if isinstance(executor, cf.ProcessPoolExecutor) else 1
    while queue or pending:
        while queue and len(pending) < in_flight:
            batch, attempt = queue.popleft()
            t0 = time.perf_counter()  # before submit: in-process, submit runs the generation itself
            future = executor.submit(_worker_generate, [chat_messages(t) for t in batch], attempt)
            pending[future] = (batch, attempt, t0)
        done, _ = cf.wait(list(pending), return_when=cf.FIRST_COMPLETED)
        for future in done:
            batch, attempt, t0 = pending.pop(future)
            stats.attempts += len(batch)
            try:
                outputs = future.result()
                if len(outputs) != len(batch):
                    raise RuntimeError(f"backend returned {len(outputs)} outputs for {len(batch)} prompts")
            except Exception as exc:
                log.warning("backend error on a batch of %d (attempt %d): %s", len(batch), attempt + 1, exc)
                outputs = [None] * len(batch)
                backend_error = f"backend: {type(exc).__name__}: {exc}"
            seconds = (time.perf_counter() - t0) / len(batch)
            again = []
            for text, raw in zip(batch, outputs):
                record = {
                    "key": cache_key(name, prompt_key, text),
                    "model": name,
                    "prompt_version": prompt_key,
                    "text_sha256": text_hash(text),
                    "attempts": attempt + 1,
                    "raw": raw,
                    "seconds": round(seconds, 3),
                }
                try:
                    if raw is None:
                        raise UserError(backend_error)
                    summary = parse_output(raw)
                except ValueError as exc:
                    errors[text].append(str(exc)[:200])
                    if attempt < settings.retries:
                        again.append(text)
                        continue
                    record.update(status="failed", caption=None, summary=None, errors=errors[text])
                    stats.failed += 1
                else:
                    record.update(
                        status="ok",
                        caption=summary.caption(),
                        summary=summary.model_dump(),
                        errors=errors[text],
                    )
                    stats.generated += 1
                    stats.valid_first_try += attempt == 0
                cache.put(record)
                results[text] = record
            if again:
                queue.append((again, attempt + 1))
        finished = stats.generated + stats.failed
        elapsed = time.perf_counter() - start
        log.info(
            "captions: %d/%d done, %d failed, %.2f/s",
            finished,
            len(todo),
            stats.failed,
            finished / elapsed if elapsed else 0.0,
        )
