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
    in_batch_size: int = field(default=100, metadata=_help("batch size of the in-batch metric"))
    in_batch_k: int = field(default=10, metadata=_help("top-k of the in-batch metric"))
    in_batch_repeats: int = field(default=5, metadata=_help("random batchings averaged"))
    curve_step: float = field(default=0.5, metadata=_help("percent step of the stored accuracy curve"))


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


@dataclass
class StudyConfig:
    """PAPERCLIP's ablation grid (``hubbleclip study``): what trains × what the text side reads."""

    dataset: str = field(default="data/skyset", metadata=_help("DatasetDict saved with save_to_disk"))
    out: str = field(default="runs/study", metadata=_help("output directory (study.json, study.md, runs)"))
    train_config: str = field(
        default="training/configs/lit-mini-skyset.yaml",
        metadata=_help("training config every cell starts from"),
    )
    base: str = field(default="lit-mini", metadata=_help("the general-domain base (row 'base', no training)"))
    scratch: str = field(
        default="lit-mini@scratch", metadata=_help("the same towers with random projections (scratch cells)")
    )
    cells: list[str] = field(
        default_factory=lambda: [
            "heads/caption",
            "heads/caption_llm",
            "heads/text_chunks",
            "scratch/caption",
        ],
        metadata=_help(
            "TRAINING/CAPTIONS cells; TRAINING: heads (locked towers), lora_text, unlock_image (last image "
            "block), scratch (heads from random projections); CAPTIONS: caption, caption_llm, text_chunks"
        ),
    )
    max_steps: int = field(default=0, metadata=_help("optimizer steps per cell (0 = the training config's)"))
    split: str = field(default="test", metadata=_help("split every model is evaluated on"))
    text_column: str = field(
        default="caption", metadata=_help("caption column retrieved at evaluation (the same for every cell)")
    )
    cache_dir: str = field(
        default="", metadata=_help("feature cache directory ('' = $HUBBLECLIP_CACHE/features)")
    )
    seed: int = field(default=0, metadata=_help("training seed of every cell"))
    bootstrap: BootstrapConfig = field(default_factory=BootstrapConfig)


@dataclass
class CrossValConfig:
    """k-fold cross-validation by object for one small source (``hubbleclip study crossval``)."""

    dataset: str = field(default="data/skyset", metadata=_help("DatasetDict saved with save_to_disk"))
    out: str = field(default="runs/crossval", metadata=_help("output directory (crossval.json, folds, runs)"))
    source: str = field(default="stellarium", metadata=_help("the source whose images are cross-validated"))
    folds: int = field(default=5, metadata=_help("number of folds (by object)"))
    train_config: str = field(
        default="training/configs/lit-mini-skyset.yaml", metadata=_help("training config of every fold")
    )
    base: str = field(default="lit-mini", metadata=_help("the untrained general-domain base (reference)"))
    scratch: str = field(default="lit-mini@scratch", metadata=_help("random projections, untrained"))
    max_steps: int = field(default=0, metadata=_help("optimizer steps per fold (0 = the training config's)"))
    text_column: str = field(default="caption", metadata=_help("caption column trained on and retrieved"))
    cache_dir: str = field(
        default="", metadata=_help("feature cache directory ('' = $HUBBLECLIP_CACHE/features)")
    )
    seed: int = field(default=0, metadata=_help("fold assignment and training seed"))
    retrieval: RetrievalConfig = field(default_factory=RetrievalConfig)
    bootstrap: BootstrapConfig = field(default_factory=BootstrapConfig)
