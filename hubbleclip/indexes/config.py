"""Settings of ``hubbleclip embed`` (torch-free, so ``--help`` stays fast)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from hubbleclip.models.specs import SPEC_HELP


@dataclass
class EmbedConfig:
    """``hubbleclip embed``: a dataset's image (and text) vectors in feature shards, then merged."""

    model: str = field(default="", metadata={"help": f"model spec: {SPEC_HELP}"})
    data: str = field(
        default="", metadata={"help": "a saved dataset, or WebDataset shards (DIR/{00000..00009}.tar)"}
    )
    out: str = field(default="", metadata={"help": "job directory (shards/, then merged/)"})
    split: str = field(default="train", metadata={"help": "split of a saved dataset"})
    towers: list[Literal["image", "text"]] = field(
        default_factory=lambda: ["image"], metadata={"help": "comma-separated: image, text or image,text"}
    )
    text_column: str = field(
        default="auto",
        metadata={"help": "column of a dataset's texts (auto: caption_llm where it exists, else caption)"},
    )
    batch_size: int = field(default=64, metadata={"help": "inputs per forward pass"})
    shard_size: int = field(default=4096, metadata={"help": "dataset rows per feature shard"})
    threads: int = field(default=0, metadata={"help": "torch CPU threads per process (0 = torch's default)"})
