"""Configuration of a caption run (YAML + ``--field value`` flags, see hubbleclip.config)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class CaptionsConfig:
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
        metadata={"help": "smollm2 (shipped GGUF) | hf:ID_OR_DIR | gguf:FILE.gguf | llamacpp:FILE.gguf"},
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
    workers: int = field(default=1, metadata={"help": "model processes (each loads its own copy)"})
    batch_size: int = field(default=8, metadata={"help": "texts per generate call"})
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
        default=None, metadata={"help": "JSONL cache file (default: OUT's sibling NAME.captions-cache.jsonl)"}
    )
    threads: int = field(default=2, metadata={"help": "torch CPU threads in this process"})
