"""The API fuzzed from its own OpenAPI schema (schemathesis, in-process ASGI), hostile uploads, and a
bounded load test (50 clients on loopback for 6 s in the suite, 30 s with HUBBLECLIP_LOAD_SECONDS=30;
memory measured).

The fuzzed app serves the mixed public/private world with tokens on, so every generated request is
also a leak probe: no answer may carry a private id or the secret word.
"""

from __future__ import annotations

import io
import os
import re
import zlib

import numpy as np
import pytest
import schemathesis
from access_world import SECRET
from hypothesis import HealthCheck, given, settings
from PIL import Image
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

EXAMPLES_PER_OPERATION = int(os.environ.get("HUBBLECLIP_FUZZ_EXAMPLES", "20"))
TRACEBACK = re.compile(r"Traceback \(most recent call last\)|File \"[^\"]+\.py\", line \d+")


@pytest.fixture(scope="module")
def fuzz_app(access_world):
    from hubbleclip.web.app import create_app
    from hubbleclip.web.config import Limits, ServeConfig
    from hubbleclip.web.engine import load_engine

    cfg = ServeConfig(
        index=access_world.index["mixed"],
        similarity=access_world.similarity["mixed"],
        tokens=access_world.tokens_file,
    )
    return create_app(load_engine(cfg), Limits(max_upload_bytes=2**20, max_pixels=4_000_000))


@pytest.fixture(scope="module")
def api_schema(fuzz_app):
    return schemathesis.openapi.from_asgi("/openapi.json", fuzz_app)


@schemathesis.check
def no_traceback_and_no_secret(ctx, response, case):
    text = response.text if "json" in (response.headers.get("content-type") or [""])[0] else ""
    if TRACEBACK.search(text):
        raise AssertionError(f"traceback text in the body: {text[:200]}")
    if SECRET in text.lower() or "secret:" in text.lower():
        raise AssertionError(f"a private row in an anonymous answer: {text[:200]}")


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    no_traceback_and_no_secret,
]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_api_from_its_schema(api_schema, mode):
    """Every operation, requests that fit its schema and requests that do not: no 5xx, documented
    status and content type, bodies that match the schema, no traceback, no private row."""
    seen = {"examples": 0, "by_status": {}, "operations": set()}  # this test's own counts
    for result in api_schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy(mode))
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case):
            if mode is GenerationMode.POSITIVE and case.headers:
                case.headers.pop("Authorization", None)  # anonymous, so valid requests reach the handlers
            response = case.call()
            seen["examples"] += 1
            seen["by_status"][response.status_code] = seen["by_status"].get(response.status_code, 0) + 1
            case.validate_response(response, checks=CHECKS)

        run()
        seen["operations"].add(f"{operation.method.upper()} {operation.path}")
    print(
        f"\nschemathesis ({mode.name.lower()}): {seen['examples']} requests over "
        f"{len(seen['operations'])} operations, by status {dict(sorted(seen['by_status'].items()))}"
    )
    assert len(seen["operations"]) == 6 and seen["examples"] >= 6 * min(EXAMPLES_PER_OPERATION, 5)


# --- hostile uploads ----------------------------------------------------------------------------------


def encoded(image: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **kw)
    return buf.getvalue()


def hostile_uploads() -> list[tuple[str, bytes, str, set[int]]]:
    """(name, bytes, declared type, acceptable statuses)."""
    rng = np.random.default_rng(0)
    rgb = Image.fromarray(rng.integers(0, 255, (40, 60, 3), np.uint8))
    png = encoded(rgb, "PNG")
    frames = [Image.new("RGB", (32, 32), c) for c in ("red", "green", "blue")]
    gif = io.BytesIO()
    frames[0].save(gif, "GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)
    webp = io.BytesIO()
    frames[0].save(webp, "WEBP", save_all=True, append_images=frames[1:], duration=50)
    apng = io.BytesIO()
    frames[0].save(apng, "PNG", save_all=True, append_images=frames[1:], duration=50)
    sixteen = Image.fromarray((rng.integers(0, 65535, (30, 30))).astype(np.uint16))
    huge_header = bytearray(encoded(Image.new("L", (1, 1)), "PNG"))
    huge_header[16:24] = (60000).to_bytes(4, "big") + (60000).to_bytes(4, "big")
    huge_header[29:33] = zlib.crc32(bytes(huge_header[12:29])).to_bytes(4, "big")  # a valid IHDR
    return [
        ("truncated PNG", png[: len(png) // 2], "image/png", {400}),
        ("truncated JPEG", encoded(rgb, "JPEG")[:300], "image/jpeg", {400}),
        ("zero bytes", b"", "image/png", {400}),
        ("huge dimensions (header 60000x60000)", bytes(huge_header), "image/png", {400, 413}),
        ("CMYK JPEG", encoded(rgb.convert("CMYK"), "JPEG"), "image/jpeg", {200}),
        ("16-bit greyscale PNG", encoded(sixteen, "PNG"), "image/png", {200}),
        ("palette PNG", encoded(rgb.convert("P"), "PNG"), "image/png", {200}),
        (
            "palette PNG with transparency",
            encoded(rgb.convert("P"), "PNG", transparency=0),
            "image/png",
            {200},
        ),
        ("greyscale + alpha PNG", encoded(rgb.convert("LA"), "PNG"), "image/png", {200}),
        ("16-bit TIFF", encoded(sixteen, "TIFF"), "image/tiff", {200}),
        ("animated GIF", gif.getvalue(), "image/gif", {200}),
        ("animated WebP", webp.getvalue(), "image/webp", {200}),
        ("animated PNG", apng.getvalue(), "image/png", {200}),
        ("1x1 PNG", encoded(Image.new("RGB", (1, 1)), "PNG"), "image/png", {200}),
        ("text declared as PNG", b"hello, not an image at all", "image/png", {415}),
        ("HTML", b"<html><script>alert(1)</script></html>", "text/html", {415}),
        ("PDF", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", "application/pdf", {415}),
        ("ZIP declared as JPEG", b"PK\x03\x04" + b"\x00" * 60, "image/jpeg", {415}),
        ("PNG declared as GIF", png, "image/gif", {415}),
        ("random bytes", rng.integers(0, 255, 4096, np.uint8).tobytes(), "image/webp", {415}),
        ("over the byte limit", b"\x89PNG" + b"\x00" * (2**20 + 10), "image/png", {413}),
    ]


@pytest.mark.parametrize(
    "name,data,content_type,ok", hostile_uploads(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_hostile_uploads_get_a_clear_answer(fuzz_app, name, data, content_type, ok):
    from fastapi.testclient import TestClient

    with TestClient(fuzz_app, raise_server_exceptions=False) as client:
        r = client.post("/api/search/image", content=data, headers={"Content-Type": content_type})
    assert r.status_code in ok, f"{name}: {r.status_code} {r.text[:200]}"
    body = r.json()
    if r.status_code == 200:
        assert len(body["classes"]) == 5 and body["width"] > 0
    else:
        assert set(body) == {"detail"} and body["detail"] and "\n" not in body["detail"]
    assert not TRACEBACK.search(r.text) and SECRET not in r.text.lower()


# --- load -------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_fifty_clients_on_loopback(access_world, fuzz_app, forkserver, tmp_path):
    """50 concurrent clients for ``HUBBLECLIP_LOAD_SECONDS`` (6 in the suite; 30 for the README's
    numbers) against a server process on loopback: no errors, p99 and the server's RSS recorded
    (whether it stays flat is a bench figure: ``python -m bench.bench_web``)."""
    from bench.harness.loadcheck import LoadConfig, run_load_check
    from hubbleclip.web.config import Limits, ServeConfig

    seconds = float(os.environ.get("HUBBLECLIP_LOAD_SECONDS", "6"))
    cfg = LoadConfig(
        serve=ServeConfig(
            index=access_world.index["mixed"],
            similarity=access_world.similarity["mixed"],
            limits=Limits(max_pixels=4_000_000, max_decodes=1),
        ),
        clients=50,
        requests=int(1000 * seconds),  # more than 50 clients answer in that time here: bounded by time
        max_seconds=seconds,
        baseline_requests=20,
        image_fraction=0.02,
        out=str(tmp_path),
        start_method="forkserver",  # the server process skips importing torch again
        max_uploads=4,  # maximal uploads at once: the server's peak memory stays under the bound
    )
    report = run_load_check(cfg, engine=fuzz_app.state.engine)
    load, rss = report["load"], report["server_rss_mb"]
    print(
        f"\nload: 50 clients, {load['wall_s']:.1f} s, {load['requests']} requests "
        f"({load['requests_per_s']:.0f}/s), {load['errors']} errors, {load['shed']} shed (503), "
        f"p50 {load['p50_ms']:.1f} ms, "
        f"p99 {load['p99_ms']:.1f} ms; server RSS {rss['first_third']:.0f} -> {rss['last_third']:.0f} MB "
        f"(max {rss['max']:.0f} MB, {len(rss['samples'])} samples); phases {report['phases_s']}"
    )
    assert load["errors"] == 0, load["error_examples"]
    assert load["requests"] >= cfg.clients  # every client was answered (rates are bench figures)
    uploads = report["uploads"]
    assert set(uploads["statuses"]) <= {"200", "503"}, uploads
    assert uploads["rss_peak_mb"] <= uploads["bound_mb"], uploads
