"""Configuration of ``hubbleclip judge`` (YAML + ``--field value`` flags)."""

from __future__ import annotations

from dataclasses import dataclass, field

from hubbleclip.captions.config import ServedConfig
from hubbleclip.metrics.config import BootstrapConfig


@dataclass
class JudgeConfig(ServedConfig):
    dataset: str = field(default="data/skyset", metadata={"help": "skyset-format DatasetDict"})
    split: str = field(default="test", metadata={"help": "images searched (rows with an image)"})
    models: list[str] = field(
        default_factory=list,
        metadata={"help": "CLIP models as NAME=SPEC, comma-separated (e.g. base=lit-mini,tuned=runs/x)"},
    )
    queries: str = field(
        default="builtin",
        metadata={
            "help": "builtin (the catalog-judged text queries) | a hubbleclip-text-queries JSON | "
            "a .txt file with one query per line (no catalog relevance)"
        },
    )
    query_split: str | None = field(
        default="test", metadata={"help": "only builtin queries of this split (held out from training)"}
    )
    query_kinds: list[str] = field(
        default_factory=lambda: ["type_constellation", "bright_type", "use_case"],
        metadata={"help": "only builtin queries of these kinds"},
    )
    require_relevant: bool = field(
        default=True,
        metadata={
            "help": "only catalog-judged queries with at least one catalog-relevant image in the split "
            "(a query with none can only measure the judge's false yeses)"
        },
    )
    max_queries: int | None = field(
        default=None, metadata={"help": "at most this many queries, taken from each kind in turn"}
    )
    k: int = field(default=10, metadata={"help": "top images per query and model that are judged"})
    text_chars: int = field(
        default=400, metadata={"help": "characters of each image's source text shown to the judge"}
    )
    keep_numbers: bool = field(
        default=True,
        metadata={
            "help": "keep the mostly-numeric sentences (magnitudes, coordinates); false drops them: "
            "shorter prompts, but SmolLM2 then agreed less with the catalog (README, judge)"
        },
    )
    model: str = field(
        default="smollm2",
        metadata={
            "help": "judge LLM: smollm2 | hf:ID_OR_DIR | gguf:FILE.gguf | llamacpp:FILE.gguf | openai:MODEL"
        },
    )
    batch_size: int = field(default=16, metadata={"help": "judgements per generate call"})
    workers: int = field(
        default=2, metadata={"help": "local judge processes, each with its own copy (as for captions)"}
    )
    retries: int = field(default=2, metadata={"help": "extra sampled attempts for an invalid answer"})
    max_new_tokens: int = field(default=16, metadata={"help": "generation budget per judgement"})
    threads: int = field(default=2, metadata={"help": "torch CPU threads"})
    cache: str | None = field(
        default=None,
        metadata={
            "help": "JSONL cache of judgements (default: $HUBBLECLIP_CACHE/judge/, one file per dataset)"
        },
    )
    cache_dir: str = field(
        default="", metadata={"help": "feature cache of the CLIP models ('' = $HUBBLECLIP_CACHE/features)"}
    )
    out: str = field(default="runs/judge", metadata={"help": "writes results.json and results.md here"})
    bootstrap: BootstrapConfig = field(default_factory=BootstrapConfig)  # resamples queries
