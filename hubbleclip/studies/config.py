"""Settings of the studies: PAPERCLIP's ablation grid, k-fold cross-validation and the WiSE-FT alpha
curve (torch-free, for configs and ``--help``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from hubbleclip.evaluation.config import RetrievalConfig
from hubbleclip.metrics.config import BootstrapConfig
from hubbleclip.models.specs import SPEC_HELP


def _help(text: str) -> dict[str, str]:
    return {"help": text}


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


@dataclass
class InterpolateConfig:
    """``hubbleclip interpolate``: WiSE-FT weight interpolation between a base and a fine-tuned model."""

    base: str = field(default="lit-mini", metadata={"help": f"the model before fine-tuning: {SPEC_HELP}"})
    tuned: str = field(default="runs/train", metadata={"help": "the fine-tuned model or its run directory"})
    alpha: list[float] = field(
        default_factory=lambda: [0.0, 0.25, 0.5, 0.75, 1.0],
        metadata={"help": "mixing weights: theta = (1 - alpha) * base + alpha * tuned"},
    )
    out: str = field(default="runs/interpolate", metadata={"help": "one export per alpha: OUT/alpha-0.50/"})
    evaluate: bool = field(
        default=False,
        metadata={"help": "also compare the exports (retrieval, zero-shot) on eval_dataset/eval_split"},
    )
    eval_dataset: str = field(default="data/skyset", metadata={"help": "with evaluate: the dataset"})
    eval_split: str = field(default="test", metadata={"help": "with evaluate: the split"})
