"""Configuration of an evaluation job (``hubbleclip evaluate`` / ``compare``, ``eval/*.py``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from hubbleclip.metrics.config import BootstrapConfig


def _help(text: str) -> dict[str, str]:
    return {"help": text}


@dataclass
class RetrievalConfig:
    percents: list[float] = field(
        default_factory=lambda: [1.0, 5.0, 10.0, 20.0, 50.0],
        metadata=_help("retrieved fractions k%% for PAPERCLIP's accuracy"),
    )
    ks: list[int] = field(default_factory=lambda: [1, 5, 10], metadata=_help("R@k cut-offs"))
    in_batch_size: int = field(
        default=100, metadata=_help("images per batch of the in-batch metrics (full batches only)")
    )
    in_batch_k: int = field(default=10, metadata=_help("top-k of the in-batch metrics"))
    in_batch_repeats: int = field(default=5, metadata=_help("random batchings averaged (ours)"))
    curve_step: float = field(default=0.5, metadata=_help("percent step of the stored accuracy curve"))
    chunk_size: int = field(
        default=0,
        metadata=_help(
            "queries scored per block (0 = about 8M scores per block); results do not depend on it"
        ),
    )


@dataclass
class ZeroShotConfig:
    sets: list[str] = field(
        default_factory=lambda: ["first=first", "stellarium=openngc"],
        metadata=_help("labelled sets as SOURCE=CLASS_LIST (built-in name or file)"),
    )
    templates: str = field(default="default", metadata=_help("prompt templates: 'default' or a file"))
    ks: list[int] = field(default_factory=lambda: [1, 5], metadata=_help("top-k accuracies"))


@dataclass
class EvalConfig:
    dataset: str = field(default="data/skyset", metadata=_help("DatasetDict saved with save_to_disk"))
    split: str = field(default="test", metadata=_help("split to evaluate"))
    webdataset: str = field(
        default="",
        metadata=_help(
            "evaluate WebDataset shards instead of dataset/split, e.g. 'DIR/test/{00000..00001}.tar'"
        ),
    )
    models: list[str] = field(
        default_factory=lambda: ["base=lit-mini"],
        metadata=_help("NAME=SPEC entries; the first is the reference for deltas"),
    )
    out: str = field(default="runs/eval", metadata=_help("output directory (results.json, results.md)"))
    tasks: list[str] = field(
        default_factory=lambda: ["retrieval", "zero_shot"], metadata=_help("retrieval and/or zero_shot")
    )
    text_column: str = field(
        default="auto",
        metadata=_help(
            "caption column to retrieve; auto = caption_llm where it exists, else caption (as training does)"
        ),
    )
    random_baseline: bool = field(default=True, metadata=_help("add a random-ranking row"))
    device: str = field(default="cpu", metadata=_help("torch device"))
    batch_size: int = field(default=64, metadata=_help("image embedding batch size"))
    cache_features: bool = field(
        default=True, metadata=_help("reuse tower features other jobs computed (the feature cache)")
    )
    cache_dir: str = field(
        default="", metadata=_help("feature cache directory ('' = $HUBBLECLIP_CACHE/features)")
    )
    retrieval: RetrievalConfig = field(default_factory=RetrievalConfig)
    zero_shot: ZeroShotConfig = field(default_factory=ZeroShotConfig)
    bootstrap: BootstrapConfig = field(default_factory=BootstrapConfig)
