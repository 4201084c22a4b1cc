"""A model behind any OpenAI-compatible chat-completions server: vLLM, SGLang, llama.cpp's
``llama-server``, Ollama or a hosted API (``--model openai:MODEL --base_url URL``).

The answer is constrained by the server: the JSON schema goes out as ``response_format``
(``json_schema``, strict) and, for vLLM, optionally as ``structured_outputs`` in the request body.
Whatever comes back is still validated by the caller (a malformed answer is a failed attempt).

Transport faults are the ``openai`` client's: a throttled (429), failed (5xx) or timed-out request
is retried ``http_retries`` times with exponential back-off and jitter, honouring ``Retry-After``.
The generation loop keeps ``concurrency`` requests in flight, one text each, so every answer
reaches the cache as it arrives.  The API key is read from the environment and only handed to
the client: it is never logged, cached or written anywhere.
"""

from __future__ import annotations

import os
from typing import Any

from hubbleclip.captions.backends.base import BackendUnavailable, Sampling
from hubbleclip.captions.config import ServedConfig

SCHEMA_NAME = "hubbleclip_answer"


def strict_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema as OpenAI's strict mode wants it: every object closed to extra properties."""
    if isinstance(schema, dict):
        out = {k: strict_schema(v) for k, v in schema.items()}
        if out.get("type") == "object":
            out.setdefault("additionalProperties", False)
        return out
    if isinstance(schema, list):
        return [strict_schema(v) for v in schema]
    return schema


class ServedBackend:
    max_batch = 1  # one text per request; `concurrency` requests run at once

    def __init__(
        self,
        model: str,
        *,
        name: str,
        schema: dict[str, Any],
        served: ServedConfig,
        sampling: Sampling = Sampling(),
    ):
        import openai

        if served.concurrency < 1 or served.http_retries < 0 or served.request_timeout_s <= 0:
            raise ValueError("concurrency must be >= 1, http_retries >= 0 and request_timeout_s > 0")
        api_key = os.environ.get(served.api_key_env)
        if not api_key and served.base_url is None:
            raise BackendUnavailable(
                f"--model openai:{model}: set {served.api_key_env} for the OpenAI API, "
                "or pass --base_url of your own server"
            )
        # local servers (vLLM without --api-key, llama-server) accept any key
        self._client = openai.OpenAI(
            base_url=served.base_url,
            api_key=api_key or "no-key",
            timeout=served.request_timeout_s,
            max_retries=served.http_retries,
        )
        self._openai = openai
        self.model = model
        self.name = name
        self.concurrency = served.concurrency
        self.sampling = sampling
        self.where = served.base_url or "the OpenAI API"
        self._schema_args: dict[str, Any] = {}
        if served.structured_outputs in ("response_format", "both"):
            self._schema_args["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": SCHEMA_NAME, "schema": strict_schema(schema), "strict": True},
            }
        if served.structured_outputs in ("vllm", "both"):
            self._schema_args["extra_body"] = {"structured_outputs": {"json": schema}}

    def generate(self, conversations: list[list[dict[str, str]]], attempt: int) -> list[str]:
        return [self._complete(messages, attempt) for messages in conversations]

    def _complete(self, messages: list[dict[str, str]], attempt: int) -> str:
        openai = self._openai
        # greedy first, then sampled retries (as the local backends do)
        sampling = (
            {"temperature": 0.0}
            if attempt == 0
            else {
                "temperature": self.sampling.temperature,
                "top_p": self.sampling.top_p,
                "seed": self.sampling.seed(attempt, messages),
            }
        )
        try:
            response = self._client.chat.completions.create(
                model=self.model,
                messages=messages,
                max_tokens=self.sampling.max_new_tokens,
                **sampling,
                **self._schema_args,
            )
        except (openai.AuthenticationError, openai.PermissionDeniedError, openai.NotFoundError) as exc:
            raise BackendUnavailable(
                f"{self.where} refused model {self.model!r}: HTTP {exc.status_code} "
                f"{type(exc).__name__}; check the model name and the key in the environment"
            ) from None
        except openai.APITimeoutError:
            raise  # a slow answer: a failed attempt for this text only
        except (openai.APIConnectionError, openai.RateLimitError) as exc:
            raise BackendUnavailable(
                f"{self.where}: {type(exc).__name__} after every retry; rerun the same command to "
                "resume (finished answers are cached)"
            ) from None
        choice = response.choices[0] if response.choices else None
        content = choice.message.content if choice is not None else None
        if not content:
            reason = choice.finish_reason if choice is not None else "no choices"
            raise ValueError(f"empty answer from the server (finish_reason {reason})")
        return content
