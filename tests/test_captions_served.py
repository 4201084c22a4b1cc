"""The served backend (``--model openai:MODEL``) against a loopback chat-completions server that
checks what it is sent and injects throttling, server errors, slow and malformed answers."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from hubbleclip.captions.backends import BackendUnavailable, Sampling
from hubbleclip.captions.backends.served import strict_schema
from hubbleclip.captions.cache import CaptionCache
from hubbleclip.captions.config import CaptionsConfig
from hubbleclip.captions.pipeline import default_cache, generate_captions
from hubbleclip.captions.schema import generation_schema
from hubbleclip.cli import main

SECRET = "sk-test-never-written-anywhere"


class ChatServer:
    """``POST /v1/chat/completions`` on 127.0.0.1.  ``faults`` is a queue of what the next requests
    get: ``429`` (Retry-After), ``500``, ``slow`` (answered only once the next request arrived, i.e.
    after the client gave up on it), ``malformed`` (a cut JSON answer), ``401``; then valid answers
    built from the last user message.  With ``hold_until_in_flight`` N, requests wait until N are in
    flight at once (``overlapped``), so a concurrent client is seen overlapping without relying on
    timing.  Every wait gives up after ``wait_s``, so a client that does not behave fails a test's
    assertion instead of hanging it."""

    def __init__(self, latency_s: float = 0.0, wait_s: float = 30.0):
        self.faults: deque[str] = deque()
        self.bodies: list[dict] = []
        self.auth: set[str] = set()
        self.latency_s, self.wait_s = latency_s, wait_s
        self.in_flight = self.max_in_flight = self.hold_until_in_flight = 0
        self.lock = threading.Lock()
        self.arrived = threading.Condition(self.lock)  # notified on every request
        self.overlapped = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server.lock:
                    server.bodies.append(body)
                    seen = len(server.bodies)
                    server.arrived.notify_all()
                    server.auth.add(self.headers.get("Authorization", ""))
                    fault = server.faults.popleft() if server.faults else None
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                    if server.in_flight >= server.hold_until_in_flight:
                        server.overlapped.set()
                try:
                    if not server.overlapped.wait(server.wait_s):
                        server.overlapped.set()  # never reached: let the rest through, the test fails
                    if fault == "slow":
                        with server.arrived:
                            server.arrived.wait_for(lambda: len(server.bodies) > seen, server.wait_s)
                    time.sleep(server.latency_s)
                    self._answer(body, fault)
                finally:
                    with server.lock:
                        server.in_flight -= 1

            def _answer(self, body, fault):
                if self.path != "/v1/chat/completions":
                    return self._send(404, {"error": {"message": "no such route"}})
                if fault in ("429", "500", "401"):
                    headers = {"Retry-After": "0.05"} if fault == "429" else {}
                    return self._send(int(fault), {"error": {"message": f"injected {fault}"}}, headers)
                text = body["messages"][-1]["content"]
                word = text.split()[0].lower().strip(".,")
                content = json.dumps(
                    {
                        "objects_and_phenomena": [f"{word} nebula", "ionized gas"],
                        "science_use_cases": ["star formation"],
                    }
                )
                if fault == "malformed":
                    content = content[:30]
                self._send(
                    200,
                    {
                        "id": "chatcmpl-1",
                        "object": "chat.completion",
                        "created": 0,
                        "model": body["model"],
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": content},
                                "finish_reason": "stop",
                            }
                        ],
                    },
                )

            def _send(self, status, payload, headers=None):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = ChatServer()
    yield s
    s.close()


def abstracts(tmp_path, n):
    path = tmp_path / "abstracts.jsonl"
    words = ["Orion", "Crab", "Ring", "Veil", "Eagle", "Lagoon", "Helix", "Rosette", "Trifid"]
    path.write_text(
        "".join(json.dumps({"id": i, "text": f"{words[i]} is a nebula."}) + "\n" for i in range(n))
    )
    return path


def served_config(src, server, **kw):
    base = dict(
        dataset=str(src),
        model="openai:test-model",
        base_url=server.url,
        api_key_env="HUBBLECLIP_TEST_KEY",
        request_timeout_s=2.0,  # what a "slow" answer costs; ample for the others on a busy machine
        http_retries=2,
        retries=1,
    )
    return CaptionsConfig(**{**base, **kw})


def test_faults_are_retried_the_schema_is_sent_and_a_rerun_sends_nothing(
    server, tmp_path, monkeypatch, caplog
):
    monkeypatch.setenv("HUBBLECLIP_TEST_KEY", SECRET)
    src = abstracts(tmp_path, 4)
    # one text at a time: its first request is throttled / fails / is too slow (client time-out) /
    # gets a malformed answer, the next one is answered
    server.faults.extend(["429", None, "500", None, "slow", None, "malformed", None])
    with caplog.at_level(logging.DEBUG):
        report = generate_captions(served_config(src, server, concurrency=1))
    rows = [json.loads(line) for line in (tmp_path / "abstracts.captions.jsonl").read_text().splitlines()]
    assert [r["status"] for r in rows] == ["ok"] * 4 and report["failed"] == 0
    assert rows[0]["caption_llm"] == "orion nebula, ionized gas; star formation"
    cache = CaptionCache(default_cache(src))
    attempts = sorted(r["attempts"] for r in cache.entries.values())
    assert attempts == [1, 1, 1, 2]  # HTTP faults are the client's retries; a bad answer is a new attempt
    assert len(server.bodies) == 4 + 3 + 1  # every fault cost exactly one extra request
    (retry,) = [b for b in server.bodies if b["temperature"] > 0]  # the malformed answer's new attempt
    # sampled with the text's own seed: the same whatever else is in flight or in its batch
    assert retry["seed"] == Sampling.seed(1, retry["messages"]) and retry["top_p"] == 0.95

    expected = strict_schema(generation_schema(3))
    for body in server.bodies:
        assert body["model"] == "test-model"
        fmt = body["response_format"]
        assert fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] is True
        assert fmt["json_schema"]["schema"] == expected
        assert "structured_outputs" not in body
    assert (
        expected["additionalProperties"] is False
        and expected["properties"]["objects_and_phenomena"]["maxItems"] == 3
    )
    assert server.auth == {f"Bearer {SECRET}"}
    # the key went to the server only
    assert SECRET not in default_cache(src).read_text() and SECRET not in caplog.text
    assert SECRET not in (tmp_path / "abstracts.captions.jsonl").read_text()

    sent = len(server.bodies)
    report = generate_captions(served_config(src, server, concurrency=1))
    assert len(server.bodies) == sent and report["run"]["cached"] == 4  # resumed from the cache


def test_concurrency_is_bounded_and_vllm_gets_structured_outputs(server, tmp_path):
    server.hold_until_in_flight = 3  # a sequential client never gets there
    server.latency_s = 0.2  # room for a 4th request, were the client not bounded
    src = abstracts(tmp_path, 9)
    config = served_config(
        src, server, concurrency=3, structured_outputs="vllm", request_timeout_s=2 * server.wait_s
    )
    report = generate_captions(config)
    assert report["llm_captions"] == 9
    assert server.max_in_flight == 3, "never more, and the 9 requests did overlap"
    body = server.bodies[0]
    assert "response_format" not in body
    assert body["structured_outputs"] == {"json": generation_schema(3)}
    assert body["temperature"] == 0.0 and body["max_tokens"] == 96


def test_a_refused_key_stops_the_run_with_one_line_and_keeps_finished_answers(server, tmp_path, capsys):
    src = abstracts(tmp_path, 3)
    server.faults.extend([None, "401"])  # the first text is answered, then the key is refused
    with pytest.raises(BackendUnavailable, match="refused model 'test-model': HTTP 401"):
        generate_captions(served_config(src, server, concurrency=1))
    assert len(CaptionCache(default_cache(src))) == 1
    args = ["captions", "generate", "--dataset", str(src), "--model", "openai:test-model"]
    assert main(args + ["--base_url", "http://127.0.0.1:9/v1", "--http_retries", "0"]) == 2
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]
    assert last.startswith("hubbleclip captions: error:") and "APIConnectionError after every retry" in last
    assert "Traceback" not in err
