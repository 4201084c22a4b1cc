"""Polite concurrent HTTP client shared by the archive builders.

Per service: at most ``concurrency`` requests in flight and request starts spaced to
``rate_per_s``.  Throttling (429), server errors (5xx) and network failures are retried with
exponential back-off and jitter; a ``Retry-After`` header is honoured and pauses the whole service.
Every final answer goes through :class:`~hubbleclip.archives.cache.ResponseCache`, so reruns only
fetch what is missing.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import logging
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from hubbleclip.archives.cache import Response, ResponseCache, request_key
from hubbleclip.archives.config import HttpConfig, ServiceLimits
from hubbleclip.errors import UserError

log = logging.getLogger(__name__)

RETRY_STATUSES = (408, 425, 429, 500, 502, 503, 504)
FINAL_MISSING = (404, 410)  # "no such record": cached, so a rerun does not ask again
MAX_RETRY_AFTER_S = 600.0


class FetchError(Exception):
    """A request the service answered with a permanent error (bad query, bad record)."""


class ServiceUnavailable(UserError):
    """A service kept failing after every retry: the build stops; a rerun resumes from the cache."""


@dataclass
class ServiceStats:
    requests: int = 0
    cache_hits: int = 0
    retries: int = 0
    bytes: int = 0


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class RateLimiter:
    """Spaces request starts ``1/rate`` apart; ``pause`` holds every start back (Retry-After)."""

    def __init__(self, rate_per_s: float):
        if rate_per_s <= 0:
            raise UserError(f"rate_per_s must be > 0, got {rate_per_s}")
        self.interval = 1.0 / rate_per_s
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        async with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self.interval
        await asyncio.sleep(start - now)

    def pause(self, seconds: float) -> None:
        self._next = max(self._next, time.monotonic() + seconds)


class ArchiveClient:
    """Use as ``async with ArchiveClient(cache, http, {"simbad": ServiceLimits(...)}) as client``."""

    def __init__(self, cache: ResponseCache, http: HttpConfig, limits: dict[str, ServiceLimits]):
        self.cache = cache
        self.http = http
        self.limits = limits
        self.stats = {name: ServiceStats() for name in limits}
        self._client = None
        self._sems: dict[str, asyncio.Semaphore] = {}
        self._limiters: dict[str, RateLimiter] = {}
        self._stopped: str | None = None  # why no new request may start (a failed service, Ctrl-C)
        self._in_flight = 0
        self._idle: asyncio.Event | None = None

    async def __aenter__(self) -> ArchiveClient:
        import httpx

        for name, lim in self.limits.items():
            if lim.concurrency < 1:
                raise UserError(f"{name}.concurrency must be >= 1, got {lim.concurrency}")
            self._sems[name] = asyncio.Semaphore(lim.concurrency)
            self._limiters[name] = RateLimiter(lim.rate_per_s)
        self._idle = asyncio.Event()
        self._idle.set()
        total = sum(lim.concurrency for lim in self.limits.values())
        self._client = httpx.AsyncClient(
            timeout=self.http.timeout_s,
            follow_redirects=True,
            headers={"User-Agent": self.http.user_agent},
            limits=httpx.Limits(max_connections=total, max_keepalive_connections=total),
        )
        return self

    async def __aexit__(self, exc_type, *exc) -> None:
        if exc_type is not None:
            # let requests already on the wire finish and reach the cache, start no new ones
            why = "interrupted" if issubclass(exc_type, asyncio.CancelledError) else exc_type.__name__
            self._stopped = self._stopped or f"stopped ({why})"
            if self._in_flight:
                log.warning(
                    "stopping (%s): waiting up to %.0f s for %d requests in flight to reach the cache; "
                    "Ctrl-C again stops at once",
                    why,
                    self.http.timeout_s,
                    self._in_flight,
                )
            # a cancellation here (Ctrl-C during this wait) is not suppressed: it must reach asyncio.run,
            # which turns it into the KeyboardInterrupt that stops the build
            with contextlib.suppress(TimeoutError, asyncio.TimeoutError):
                await asyncio.wait_for(self._idle.wait(), timeout=self.http.timeout_s)
        await self._client.aclose()

    def report(self) -> dict:
        return {name: asdict(s) for name, s in self.stats.items()}

    def _backoff(self, attempt: int) -> float:
        delay = min(self.http.backoff_max_s, self.http.backoff_s * 2**attempt)
        return delay * (0.5 + random.random() / 2)

    async def fetch(
        self,
        service: str,
        url: str,
        *,
        params: dict | None = None,
        data: dict | None = None,
        retry_if: Callable[[Response], str | None] | None = None,
    ) -> Response:
        """GET (or POST form ``data``) through the cache.  ``retry_if`` flags a 2xx answer that is
        not final yet (e.g. a job still executing): it is retried and not cached."""
        method = "POST" if data is not None else "GET"
        key = request_key(method, url, params, data)
        stats = self.stats[service]
        cached = self.cache.get(key)
        if cached is not None:
            stats.cache_hits += 1
            return cached
        reason = ""
        async with self._sems[service]:
            for attempt in range(self.http.max_retries + 1):
                await self._limiters[service].wait()
                if self._stopped:
                    raise ServiceUnavailable(f"{service}: not started: {self._stopped}")
                stats.requests += 1
                delay = self._backoff(attempt)
                self._in_flight += 1
                self._idle.clear()
                # shielded: on Ctrl-C or a failed sibling, a request on the wire still lands in the cache
                resp, reason, retry_after = await asyncio.shield(
                    asyncio.ensure_future(self._send(service, method, url, params, data, key, retry_if))
                )
                if resp is not None and not reason:
                    if resp.ok or resp.status in FINAL_MISSING:
                        return resp
                    raise FetchError(f"{service}: {resp.url} answered HTTP {resp.status}: {resp.text[:300]}")
                if retry_after is not None:
                    delay = min(retry_after, MAX_RETRY_AFTER_S)
                    self._limiters[service].pause(delay)
                if attempt == self.http.max_retries:
                    break
                stats.retries += 1
                log.info("%s: %s (%s); retry %d in %.1f s", service, url, reason, attempt + 1, delay)
                await asyncio.sleep(delay)
        message = (
            f"{service}: {url} failed {self.http.max_retries + 1} times (last: {reason}); "
            f"rerun the same command to resume: {len(self.cache)} responses are cached in {self.cache.path}"
        )
        # the requests refused after this carry the same hint, whichever of them gather() surfaces
        self._stopped = message
        raise ServiceUnavailable(message)

    async def _send(
        self,
        service: str,
        method: str,
        url: str,
        params: dict | None,
        data: dict | None,
        key: str,
        retry_if: Callable[[Response], str | None] | None,
    ) -> tuple[Response | None, str, float | None]:
        """One request: (response, why to retry or "", Retry-After seconds); final answers are cached."""
        import httpx

        try:
            try:
                r = await self._client.request(method, url, params=params, data=data)
            except httpx.TransportError as exc:
                return None, f"{type(exc).__name__}: {exc}", None
            self.stats[service].bytes += len(r.content)
            resp = Response(str(r.url), r.status_code, r.headers.get("content-type", ""), r.content)
            if r.status_code in RETRY_STATUSES:
                return resp, f"HTTP {r.status_code}", retry_after_seconds(r.headers.get("retry-after"))
            if resp.ok or r.status_code in FINAL_MISSING:
                pending = retry_if(resp) if (retry_if and resp.ok) else None
                if pending:
                    return resp, pending, None
                self.cache.put(key, resp)
            return resp, "", None
        finally:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()
