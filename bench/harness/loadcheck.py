"""A bounded load check of the web API on loopback (``python -m bench.bench_web``).

The server runs in its own process (so client and server do not share a GIL).  A fixed mix of
real requests (text search, similar pages, re-ranking by a selection, thumbnails, image search)
is sent by ``clients`` concurrent clients until ``requests`` are done or ``max_seconds`` pass.
Baselines measured in the same run: the same mix called directly on the engine in-process, and
sent over HTTP by one client at a time.  The server's resident memory is sampled every
``rss_every_s`` during the load phase (``server_rss_mb`` in the report).  Then ``max_uploads``
clients upload at once an image just under the pixel cap: the server's peak memory is reported
against the bound the decode slots promise (``uploads`` in the report, :func:`upload_bound_mb`).
"""

from __future__ import annotations

import asyncio
import io
import logging
import math
import multiprocessing
import random
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image

from hubbleclip.access.policy import ANONYMOUS
from hubbleclip.errors import UserError
from hubbleclip.io import atomic_write_json
from hubbleclip.web.app import create_app
from hubbleclip.web.config import Limits, ServeConfig
from hubbleclip.web.engine import load_engine

log = logging.getLogger(__name__)

TEXT_QUERIES = (
    "andromeda galaxy",
    "ring nebula",
    "bright globular cluster in Hercules",
    "M42",
    "planetary nebula in Aquarius",
    "barred spiral galaxy",
    "Pleiades",
    "NGC 7293",
    "faint elliptical galaxies in Virgo",
    "supernova remnant",
    "Sirius",
    "open clusters in Cassiopeia",
)


@dataclass
class LoadConfig:
    serve: ServeConfig = field(default_factory=ServeConfig)
    clients: int = field(default=20, metadata={"help": "concurrent clients"})
    requests: int = field(default=5000, metadata={"help": "requests in the load phase"})
    max_seconds: float = field(
        default=300.0, metadata={"help": "the load phase stops after this long in any case"}
    )
    baseline_requests: int = field(
        default=200, metadata={"help": "requests of each baseline (direct, one client)"}
    )
    image_fraction: float = field(default=0.02, metadata={"help": "share of image-search uploads in the mix"})
    seed: int = field(default=0, metadata={"help": "seed of the request mix"})
    rss_every_s: float = field(default=0.5, metadata={"help": "server memory sampling interval, seconds"})
    max_uploads: int = field(
        default=10,
        metadata={"help": "concurrent uploads of an image just under serve.limits.max_pixels (0 = none)"},
    )
    start_method: Literal["spawn", "forkserver"] = field(
        default="spawn",
        metadata={"help": "how the server process starts (forkserver: from a running forkserver's imports)"},
    )
    out: str = field(default="runs/bench-web", metadata={"help": "directory for report.json"})


@dataclass
class Call:
    kind: str
    method: str
    path: str
    params: dict | None = None
    json: dict | None = None
    body: bytes | None = None
    content_type: str | None = None


def request_mix(
    image_ids: list[str], upload: tuple[bytes, str], n: int, image_fraction: float, seed: int
) -> list[Call]:
    """``n`` requests: text search 40%, similar pages 25%, selection re-ranking 15%, thumbnails 20%
    (image searches take their share from the text searches)."""
    rng = random.Random(seed)
    calls = []
    for _ in range(n):
        r = rng.random()
        if r < image_fraction:
            calls.append(
                Call(
                    "image_search",
                    "POST",
                    "/api/search/image",
                    params={"k": 24},
                    body=upload[0],
                    content_type=upload[1],
                )
            )
        elif r < 0.40:
            calls.append(
                Call("text_search", "GET", "/api/search", params={"q": rng.choice(TEXT_QUERIES), "k": 24})
            )
        elif r < 0.65:
            body = {"image_id": rng.choice(image_ids), "offset": rng.choice((0, 0, 24, 48)), "limit": 24}
            calls.append(Call("similar", "POST", "/api/similar", json=body))
        elif r < 0.80:
            body = {"image_id": rng.choice(image_ids), "selected": rng.sample(image_ids, 2), "limit": 24}
            calls.append(Call("refine", "POST", "/api/similar", json=body))
        else:
            calls.append(Call("thumbnail", "GET", f"/api/images/{rng.choice(image_ids)}"))
    return calls


def percentiles(latencies_ms: list[float]) -> dict[str, float]:
    if not latencies_ms:
        return {"p50_ms": float("nan"), "p99_ms": float("nan"), "mean_ms": float("nan")}
    a = np.asarray(latencies_ms)
    return {
        "p50_ms": float(np.percentile(a, 50)),
        "p99_ms": float(np.percentile(a, 99)),
        "mean_ms": float(a.mean()),
    }


async def _drive(base_url: str, calls: list[Call], clients: int, max_seconds: float) -> dict:
    import httpx

    latencies: dict[str, list[float]] = {}
    errors: list[str] = []
    shed = 0  # 503 with Retry-After: the documented back-pressure of a full decode queue, not a fault
    next_call = iter(range(len(calls)))
    deadline = time.monotonic() + max_seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal shed
        for i in next_call:
            if time.monotonic() > deadline:
                return
            call = calls[i]
            headers = {"Content-Type": call.content_type} if call.content_type else None
            t0 = time.perf_counter()
            try:
                response = await client.request(
                    call.method,
                    call.path,
                    params=call.params,
                    json=call.json,
                    content=call.body,
                    headers=headers,
                )
                ok = response.status_code == 200
                if response.status_code == 503 and "retry-after" in response.headers:
                    shed += 1
                elif not ok:
                    errors.append(f"{call.kind} {response.status_code}: {response.text[:120]}")
            except httpx.HTTPError as exc:
                ok = False
                errors.append(f"{call.kind} {type(exc).__name__}: {exc}")
            if ok:
                latencies.setdefault(call.kind, []).append((time.perf_counter() - t0) * 1000)

    t0 = time.perf_counter()
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60.0) as client:
        await asyncio.gather(*(worker(client) for _ in range(clients)))
    wall = time.perf_counter() - t0
    done = sum(len(v) for v in latencies.values()) + len(errors) + shed
    every = [x for v in latencies.values() for x in v]
    return {
        "requests": done,
        "planned": len(calls),
        "errors": len(errors),
        "error_examples": errors[:5],
        "shed": shed,
        "wall_s": wall,
        "requests_per_s": done / wall if wall else 0.0,
        "stopped_by_time": done < len(calls),
        **percentiles(every),
        "by_kind": {k: {"n": len(v), **percentiles(v)} for k, v in sorted(latencies.items())},
    }


def drive(base_url: str, calls: list[Call], clients: int, max_seconds: float) -> dict:
    return asyncio.run(_drive(base_url, calls, clients, max_seconds))


def direct_baseline(engine, calls: list[Call], upload_image) -> dict:
    """The same calls answered by the library in-process, one at a time (no HTTP, no JSON)."""
    latencies: dict[str, list[float]] = {}
    for call in calls:
        t0 = time.perf_counter()
        if call.kind == "image_search":
            engine.searcher.search(image=upload_image, k=24)
            engine.classify(upload_image, 5)
        elif call.kind == "text_search":
            engine.searcher.search(text=call.params["q"], k=call.params["k"])
        elif call.kind in ("similar", "refine"):
            j = call.json
            engine.space.similar(j["image_id"], j.get("selected", []), j.get("offset", 0), j["limit"])
        else:
            engine.store.thumbnail(call.path.rsplit("/", 1)[1])
        latencies.setdefault(call.kind, []).append((time.perf_counter() - t0) * 1000)
    every = [x for v in latencies.values() for x in v]
    return {
        "requests": len(calls),
        **percentiles(every),
        "by_kind": {k: {"n": len(v), **percentiles(v)} for k, v in sorted(latencies.items())},
    }


class RssSampler:
    """Resident memory (MB) of a process, sampled in a background thread while the block runs."""

    def __init__(self, pid: int, every_s: float):
        import psutil

        self.process, self.every_s = psutil.Process(pid), every_s
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append(self.process.memory_info().rss / 2**20)
            self._stop.wait(self.every_s)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def summary(self) -> dict:
        a = np.asarray(self.samples)
        third = max(1, len(a) // 3)
        return {
            "samples": [round(float(x), 1) for x in a],
            "first_third": float(a[:third].mean()),
            "last_third": float(a[-third:].mean()),
            "max": float(a.max()),
        }


# Pillow holds an RGB pixel in 4 bytes; a decode slot holds the decoded image and, briefly, the
# copies the model's preprocessing makes of it: about 12 bytes a pixel measured (docs/web.md),
# 16 with a margin
BYTES_PER_PIXEL_IN_A_SLOT = 16


def upload_bound_mb(limits: Limits, uploads: int) -> float:
    """What ``uploads`` concurrent uploads may add to the server's memory: ``max_decodes`` decoded
    images (BYTES_PER_PIXEL_IN_A_SLOT a pixel), whatever the number of uploads, and their bodies
    (each read whole, at most max_upload_bytes, before it waits for a slot)."""
    decoded = limits.max_decodes * BYTES_PER_PIXEL_IN_A_SLOT * limits.max_pixels
    return (decoded + uploads * limits.max_upload_bytes) / 2**20


def maximal_upload(max_pixels: int) -> bytes:
    """An RGB PNG just under ``max_pixels`` that compresses to a few hundred KB: dark sky, a few
    thousand stars (the cheapest way to make a server decode the most pixels)."""
    side = math.isqrt(int(max_pixels * 0.99))
    sky = np.zeros((side, side, 3), np.uint8)
    rng = np.random.default_rng(0)
    sky[rng.integers(0, side, 5000), rng.integers(0, side, 5000)] = 255
    out = io.BytesIO()
    Image.fromarray(sky).save(out, "PNG")
    return out.getvalue()


def upload_burst(base_url: str, pid: int, limits: Limits, clients: int, every_s: float) -> dict:
    """``clients`` maximal uploads sent at once; the server's RSS before and at its peak."""
    import httpx

    png = maximal_upload(limits.max_pixels)
    statuses: dict[int, int] = {}

    async def one(client: httpx.AsyncClient) -> None:
        r = await client.post("/api/search/image", content=png, headers={"Content-Type": "image/png"})
        statuses[r.status_code] = statuses.get(r.status_code, 0) + 1

    async def burst() -> None:
        async with httpx.AsyncClient(base_url=base_url, timeout=300.0) as client:
            await asyncio.gather(*(one(client) for _ in range(clients)))

    with RssSampler(pid, every_s) as rss:
        asyncio.run(burst())
    before, peak = rss.samples[0], max(rss.samples)
    return {
        "uploads": clients,
        "pixels": math.isqrt(int(limits.max_pixels * 0.99)) ** 2,
        "bytes": len(png),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "max_decodes": limits.max_decodes,
        "rss_before_mb": round(before, 1),
        "rss_peak_mb": round(peak, 1),
        "bound_mb": round(before + upload_bound_mb(limits, clients), 1),
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(cfg: ServeConfig) -> None:
    import uvicorn

    # keep-alive outlasts any load run: a connection the server closes just as a client reuses it
    # ends in a client ReadError, which is not what the load check measures
    uvicorn.run(
        create_app(load_engine(cfg), cfg.limits),
        host=cfg.host,
        port=cfg.port,
        log_level="error",
        timeout_keep_alive=600,
    )


def _wait_ready(base_url: str, process, timeout: float = 300.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process.is_alive():
            raise RuntimeError(f"the server process exited with code {process.exitcode} before it was ready")
        try:
            if httpx.get(f"{base_url}/api/info", timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the server at {base_url} was not ready within {timeout:.0f} s")


def run_load_check(cfg: LoadConfig, engine=None) -> dict:
    """Start the server on loopback, measure the baselines and the load phase, stop the server.
    ``engine``: an engine already loaded from ``cfg.serve`` for the in-process baseline (else loaded)."""
    from dataclasses import replace

    if not cfg.serve.index:
        raise UserError("serve.index: give the retrieval index directory (hubbleclip index build)")
    started = time.perf_counter()
    phases: dict[str, float] = {}
    engine = engine or load_engine(cfg.serve)  # the in-process baseline, and the request mix's ids
    public = engine.view(ANONYMOUS)  # the clients are anonymous: they ask for ids they may see
    image_ids = [
        i
        for i in engine.space.ids
        if engine.image_visible(public, i) and engine.space.contains(i, public.space)
    ]
    upload_id = next((i for i in image_ids if i.startswith("stellarium:")), image_ids[0])
    upload = engine.store.original(upload_id)
    upload_image = Image.open(io.BytesIO(upload[0])).convert("RGB")
    calls = request_mix(image_ids, upload, cfg.requests, cfg.image_fraction, cfg.seed)
    base_calls = request_mix(image_ids, upload, cfg.baseline_requests, cfg.image_fraction, cfg.seed + 1)

    serve = replace(cfg.serve, host="127.0.0.1", port=_free_port())
    base_url = f"http://{serve.host}:{serve.port}"
    process = multiprocessing.get_context(cfg.start_method).Process(target=_serve, args=(serve,), daemon=True)
    process.start()
    phases["load_engine"] = time.perf_counter() - started
    try:
        _wait_ready(base_url, process)
        phases["server_start"] = time.perf_counter() - started - sum(phases.values())
        # warm-up of both sides (thumbnail and query caches, lazy imports) before anything is timed
        drive(base_url, base_calls[:50], 4, cfg.max_seconds)
        direct_baseline(engine, base_calls[:50], upload_image)
        report = {
            "config": {
                "clients": cfg.clients,
                "requests": cfg.requests,
                "max_seconds": cfg.max_seconds,
                "index": cfg.serve.index,
                "similarity": cfg.serve.similarity or "(retrieval index vectors)",
                "images": len(image_ids),
                "objects": len(engine.searcher.index),
            },
            "direct": direct_baseline(engine, base_calls, upload_image),
            "one_client": drive(base_url, base_calls, 1, cfg.max_seconds),
        }
        phases["baselines"] = time.perf_counter() - started - sum(phases.values())
        with RssSampler(process.pid, cfg.rss_every_s) as rss:
            report["load"] = drive(base_url, calls, cfg.clients, cfg.max_seconds)
        report["server_rss_mb"] = rss.summary()
        phases["load"] = time.perf_counter() - started - sum(phases.values())
        if cfg.max_uploads:
            report["uploads"] = upload_burst(
                base_url, process.pid, serve.limits, cfg.max_uploads, min(cfg.rss_every_s, 0.1)
            )
            phases["uploads"] = time.perf_counter() - started - sum(phases.values())
    finally:
        process.terminate()
        process.join(10)
    phases["stop"] = time.perf_counter() - started - sum(phases.values())
    report["phases_s"] = {k: round(v, 2) for k, v in phases.items()}
    direct, one, load = report["direct"], report["one_client"], report["load"]
    report["ratios"] = {
        "one_client_p50_over_direct_p50": one["p50_ms"] / direct["p50_ms"],
        "load_p50_over_direct_p50": load["p50_ms"] / direct["p50_ms"],
        "load_p50_over_one_client_p50": load["p50_ms"] / one["p50_ms"],
        "load_rps_over_one_client_rps": load["requests_per_s"] / one["requests_per_s"],
    }
    atomic_write_json(Path(cfg.out) / "report.json", report)
    return report
