"""Configuration of a caption run (YAML + ``--field value`` flags, see hubbleclip.config)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass
class ServedConfig:
    """How to reach a served model (``--model openai:MODEL``); other backends ignore it."""

    base_url: str | None = field(
        default=None,
        metadata={
            "help": "OpenAI-compatible server for openai:MODEL, e.g. http://localhost:8000/v1 "
            "(default: the OpenAI API)"
        },
    )
    api_key_env: str = field(
        default="OPENAI_API_KEY",
        metadata={"help": "environment variable that holds the API key (never logged or cached)"},
    )
    concurrency: int = field(default=8, metadata={"help": "requests in flight at once (openai: models)"})
    request_timeout_s: float = field(default=120.0, metadata={"help": "per-request timeout (openai: models)"})
    http_retries: int = field(
        default=4,
        metadata={
            "help": "retries of a throttled (429), failed (5xx) or timed-out request, with back-off "
            "and Retry-After, before it counts as a failed attempt"
        },
    )
    structured_outputs: Literal["response_format", "vllm", "both"] = field(
        default="response_format",
        metadata={
            "help": "how the JSON schema is sent: OpenAI's response_format (vLLM, llama-server, SGLang, "
            "hosted APIs), vLLM's structured_outputs request field, or both"
        },
    )


@dataclass
class CaptionsConfig(ServedConfig):
    dataset: str = field(
        default="data/skyset",
        metadata={
            "help": "a saved DatasetDict (updated in place unless --out) or a .csv/.jsonl with id,text"
        },
    )
    out: str | None = field(
        default=None,
        metadata={
            "help": (
                "output dataset dir or table file (default: dataset in place, NAME.captions.EXT for tables)"
            )
        },
    )
    model: str = field(
        default="smollm2",
        metadata={
            "help": "smollm2 (shipped GGUF) | hf:ID_OR_DIR | gguf:FILE.gguf | llamacpp:FILE.gguf "
            "| openai:MODEL (served, see --base_url)"
        },
    )
    limit: int | None = field(
        default=None,
        metadata={
            "help": (
                "caption at most this many distinct texts (imaged rows first); "
                "the rest keep the template caption"
            )
        },
    )
    workers: int = field(
        default=2,
        metadata={
            "help": "local model processes, each with its own copy and cpu_count/N torch threads "
            "(decoding a small model is faster in two 1-thread processes than in one 2-thread one)"
        },
    )
    batch_size: int = field(default=32, metadata={"help": "texts per generate call"})
    retries: int = field(
        default=2, metadata={"help": "extra sampled attempts for an invalid output before failing"}
    )
    retry_failed: bool = field(
        default=False, metadata={"help": "try again texts the cache records as failed"}
    )
    max_items: int = field(
        default=3, metadata={"help": "most items per list the LLM may write (schema allows 5)"}
    )
    max_new_tokens: int = field(default=96, metadata={"help": "generation budget per caption"})
    cache: str | None = field(
        default=None,
        metadata={
            "help": "JSONL cache file (default: under the cache root, $HUBBLECLIP_CACHE/captions/"
            "NAME-DIGEST.jsonl, one per dataset path)"
        },
    )
    threads: int = field(default=2, metadata={"help": "torch CPU threads in this process"})
    prefix_cache: bool = field(
        default=True,
        metadata={"help": "compute the rules and worked examples every prompt shares once (transformers)"},
    )
