"""Run an LLM task over many items: de-duplicate, skip what the cache has, batch, retry, record failures.

The main process owns the cache.  With ``workers > 1`` each worker process loads its own copy of
the model (torch threads split between them) and only generates; a served model gets up to
``concurrency`` requests in flight from threads.  Nothing here raises on a bad LLM output or a
backend error: after ``retries`` extra attempts the item is recorded as failed.  Only a backend
that cannot serve at all (no server, a refused key) stops the run; the cache keeps what finished.
"""

from __future__ import annotations

import collections
import concurrent.futures as cf
import dataclasses
import logging
import os
import time
from typing import Any

from hubbleclip.captions.backends import (
    Backend,
    BackendUnavailable,
    ModelSpec,
    Sampling,
    load_backend,
    resolve_spec,
)
from hubbleclip.captions.cache import CaptionCache, cache_key, text_hash
from hubbleclip.captions.config import ServedConfig
from hubbleclip.captions.task import LLMTask, caption_task
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
    served: ServedConfig = dataclasses.field(default_factory=ServedConfig)
    prefix_cache: bool = True
    sort_by_length: bool = True  # batches of similar length waste less padding

    def caption_task(self) -> LLMTask:
        return caption_task(self.max_items, self.sampling.max_new_tokens)

    def prompt_key(self) -> str:
        """Everything besides the model and the text that changes a caption."""
        return self.caption_task().key


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
_WARMED = None  # a barrier all model processes reach after their warm-up generation


def _init_worker(spec: ModelSpec, task: LLMTask, settings: RunSettings, threads: int, warmed) -> None:
    import torch

    global _WORKER, _WARMED
    torch.set_num_threads(threads)
    _WORKER = _load(spec, task, settings)
    _WARMED = warmed


def _worker_warm(conversations: list[list[dict[str, str]]], attempt: int) -> list[str]:
    """Generate once, then wait for the other processes: each one takes exactly one warm-up call,
    instead of the first loaded process taking them all while another is still loading."""
    outputs = _worker_generate(conversations, attempt)
    if _WARMED is not None:
        _WARMED.wait(timeout=600)
    return outputs


def _worker_generate(conversations: list[list[dict[str, str]]], attempt: int) -> list[str]:
    assert _WORKER is not None
    return _WORKER.generate(conversations, attempt)


def _load(spec: ModelSpec, task: LLMTask, settings: RunSettings) -> Backend:
    return load_backend(
        spec,
        schema=task.schema,
        sampling=settings.sampling,
        served=settings.served,
        prefix_cache=settings.prefix_cache,
    )


class _InProcess:
    """The executor interface over one backend in this process (no threads: torch has its own)."""

    in_flight = 1

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


class _Threads:
    """Up to ``backend.concurrency`` calls at once: a served backend's calls wait on the network."""

    def __init__(self, backend: Backend):
        self.backend = backend
        self.in_flight = backend.concurrency
        self._pool = cf.ThreadPoolExecutor(backend.concurrency, thread_name_prefix="llm-request")

    def submit(self, fn, conversations, attempt) -> cf.Future:
        return self._pool.submit(self.backend.generate, conversations, attempt)

    def shutdown(self, **_) -> None:
        # requests already on the wire finish in the background; their answers are not waited for
        self._pool.shutdown(wait=False, cancel_futures=True)


def caption_texts(
    texts: list[str],
    cache: CaptionCache,
    model: str | ModelSpec | Backend,
    settings: RunSettings = RunSettings(),
    task: LLMTask | None = None,
    executor=None,
) -> tuple[dict[str, dict[str, Any]], RunStats]:
    """Run ``task`` (default: captions) once per distinct item; returns {item: cache record} and
    run statistics.  ``model`` is a spec (loaded only if some item is not cached) or a ready backend;
    ``executor`` (from :func:`open_executor`, for ``model``) is used instead of loading it, and
    left open.
    """
    task = task or settings.caption_task()
    if isinstance(model, str):
        model = resolve_spec(model)
    name = model.name
    unique = list(dict.fromkeys(texts))
    stats = RunStats(texts=len(unique))
    results: dict[str, dict[str, Any]] = {}
    todo = []
    for text in unique:
        record = cache.get(cache_key(name, task.key, text))
        if record and (record["status"] == "ok" or not settings.retry_failed):
            results[text] = record
            stats.cached += 1
        else:
            todo.append(text)
    if not todo:
        return results, stats
    if settings.sort_by_length:
        todo.sort(key=len)
    log.info("%d items for %s (%s; %d cached)", len(todo), name, task.key, stats.cached)
    start = time.perf_counter()
    own = executor is None
    executor = executor or open_executor(model, task, settings)
    try:
        _run(todo, executor, cache, name, task, settings, results, stats, start)
    finally:
        if own:
            executor.shutdown(cancel_futures=True)
    stats.seconds = time.perf_counter() - start
    return results, stats


def open_executor(
    model: ModelSpec | Backend, task: LLMTask, settings: RunSettings, warm_text: str | None = None
):
    """What generates for :func:`caption_texts`: ``settings.workers`` model processes, threads for
    a served model, or the backend in this process.  With ``warm_text``, every worker has loaded
    its model and generated once for it before this returns (a benchmark times only generation)."""
    executor = _executor(model, task, settings)
    if warm_text is not None:
        calls = [
            executor.submit(_worker_warm, [task.messages(warm_text)], 0)
            for _ in range(getattr(executor, "workers", 1))
        ]
        for call in calls:
            call.result()
    return executor


def _executor(model: ModelSpec | Backend, task: LLMTask, settings: RunSettings):
    if isinstance(model, ModelSpec) and settings.workers > 1 and model.kind != "openai":
        import multiprocessing as mp

        threads = max(1, (os.cpu_count() or 1) // settings.workers)
        context = mp.get_context("spawn")
        pool = cf.ProcessPoolExecutor(
            settings.workers,
            mp_context=context,
            initializer=_init_worker,
            initargs=(model, task, settings, threads, context.Barrier(settings.workers)),
        )
        pool.in_flight = 2 * settings.workers  # type: ignore[attr-defined]
        pool.workers = settings.workers  # type: ignore[attr-defined]
        return pool
    backend = _load(model, task, settings) if isinstance(model, ModelSpec) else model
    return _Threads(backend) if getattr(backend, "concurrency", 1) > 1 else _InProcess(backend)


def _batches(todo: list[str], size: int, by_length: bool) -> list[list[str]]:
    """Batches of at most ``size`` items.  Of texts sorted by length, a batch also ends where the
    next text is over twice as long as its first (plus 100 characters): every row is padded to the
    longest, so one long text among short ones would multiply the batch's prefill."""
    if not by_length:
        return [todo[i : i + size] for i in range(0, len(todo), size)]
    batches: list[list[str]] = []
    for text in todo:
        if batches and len(batches[-1]) < size and len(text) <= 2 * len(batches[-1][0]) + 100:
            batches[-1].append(text)
        else:
            batches.append([text])
    return batches


def _run(todo, executor, cache, name, task: LLMTask, settings, results, stats, start) -> None:
    batch_size = max(1, settings.batch_size)
    if isinstance(executor, (_InProcess, _Threads)):
        batch_size = min(batch_size, executor.backend.max_batch)
    else:  # model processes: every worker gets a batch, even when the texts are few
        batch_size = min(batch_size, -(-len(todo) // executor.workers))
    errors: dict[str, list[str]] = {text: [] for text in todo}
    queue = collections.deque((batch, 0) for batch in _batches(todo, batch_size, settings.sort_by_length))
    pending: dict[cf.Future, tuple[list[str], int, float]] = {}
    # few batches in flight, so results reach the cache as they come (a crash loses little)
    while queue or pending:
        while queue and len(pending) < executor.in_flight:
            batch, attempt = queue.popleft()
            t0 = time.perf_counter()  # before submit: in-process, submit runs the generation itself
            future = executor.submit(_worker_generate, [task.messages(t) for t in batch], attempt)
            pending[future] = (batch, attempt, t0)
        done, _ = cf.wait(list(pending), return_when=cf.FIRST_COMPLETED)
        for future in done:
            batch, attempt, t0 = pending.pop(future)
            stats.attempts += len(batch)
            try:
                outputs = future.result()
                if len(outputs) != len(batch):
                    raise RuntimeError(f"backend returned {len(outputs)} outputs for {len(batch)} prompts")
            except BackendUnavailable:
                raise
            except Exception as exc:
                log.warning("backend error on a batch of %d (attempt %d): %s", len(batch), attempt + 1, exc)
                outputs = [None] * len(batch)
                backend_error = f"backend: {type(exc).__name__}: {exc}"
            seconds = (time.perf_counter() - t0) / len(batch)
            again = []
            for text, raw in zip(batch, outputs):
                record = {
                    "key": cache_key(name, task.key, text),
                    "model": name,
                    "prompt_version": task.key,
                    "text_sha256": text_hash(text),
                    "attempts": attempt + 1,
                    "raw": raw,
                    "seconds": round(seconds, 3),
                }
                try:
                    if raw is None:
                        raise UserError(backend_error)
                    fields = task.parse(raw)
                except ValueError as exc:
                    errors[text].append(str(exc)[:200])
                    if attempt < settings.retries:
                        again.append(text)
                        continue
                    record.update(status="failed", **dict.fromkeys(task.fields), errors=errors[text])
                    stats.failed += 1
                else:
                    record.update(status="ok", **fields, errors=errors[text])
                    stats.generated += 1
                    stats.valid_first_try += attempt == 0
                cache.put(record)
                results[text] = record
            if again:
                queue.append((again, attempt + 1))
        finished = stats.generated + stats.failed
        elapsed = time.perf_counter() - start
        log.info(
            "%s: %d/%d done, %d failed, %.2f/s",
            name,
            finished,
            len(todo),
            stats.failed,
            finished / elapsed if elapsed else 0.0,
        )
