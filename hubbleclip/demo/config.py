"""Configuration of the demo run (YAML + ``--field value`` flags)."""

from __future__ import annotations

from dataclasses import dataclass, field

from hubbleclip.judge.config import JudgeConfig
from hubbleclip.search.config import KindsConfig, RerankConfig

STAGE_NAMES = [
    "skyset",
    "captions",
    "train",
    "compare",
    "judge",
    "study",
    "retrieval",
    "similarity",
    "figures",
]


@dataclass
class DemoConfig:
    out: str = field(default="runs/demo", metadata={"help": "where every stage writes its outputs"})
    skyset: str = field(default="data/skyset", metadata={"help": "the skyset (built here if missing)"})
    stellarium_dir: str | None = field(
        default=None, metadata={"help": "Stellarium data dir for the skyset build"}
    )
    kstars_dir: str | None = field(
        default=None, metadata={"help": "KStars AstroInfo dir for the skyset build"}
    )
    caption_model: str = field(default="smollm2", metadata={"help": "LLM for the caption stage"})
    caption_live: int = field(
        default=4,
        metadata={
            "help": "texts the LLM captions live; every imaged text also gets its shipped caption "
            "(hubbleclip/resources/captions)"
        },
    )
    train_config: str = field(
        default="training/configs/lit-mini-skyset.yaml",
        metadata={"help": "training config of the fine-tuning stage"},
    )
    base_model: str = field(default="lit-mini", metadata={"help": "the base model (what is fine-tuned)"})
    scratch_model: str = field(
        default="lit-mini@scratch",
        metadata={"help": "the base's towers with random projections (study stage)"},
    )
    cache_dir: str = field(
        default="",
        metadata={"help": "feature cache of every stage ('' = $HUBBLECLIP_CACHE/features)"},
    )
    eval_split: str = field(default="test", metadata={"help": "split for the comparison and the examples"})
    study_cells: list[str] = field(
        # text_chunks is left out: random text spans cannot use cached text features (~9 min here)
        default_factory=lambda: ["heads/caption", "heads/caption_llm", "scratch/caption"],
        metadata={"help": "ablation cells of the study stage (TRAINING/CAPTIONS, see `hubbleclip study`)"},
    )
    crossval_folds: int = field(
        default=5, metadata={"help": "folds of the study stage's Stellarium cross-validation"}
    )
    similarity_queries: list[str] = field(
        default_factory=lambda: ["M51", "M42", "M57"],
        metadata={"help": "objects whose images are similarity queries"},
    )
    examples: int = field(default=6, metadata={"help": "images / text queries shown in the example figures"})
    judge: JudgeConfig = field(
        # three held-out queries of each kind that have a relevant test image: the LLM judge's time budget
        default_factory=lambda: JudgeConfig(max_queries=9),
        metadata={
            "help": "LLM judge of base vs tuned top images (the demo sets its dataset, split, models and out)"
        },
    )
    rerank: RerankConfig = field(
        default_factory=RerankConfig,
        metadata={"help": "reranker settings of the retrieval stage (the demo sets its index and out)"},
    )
    kinds: KindsConfig = field(
        default_factory=KindsConfig,
        metadata={"help": "query-kind evaluation of the retrieval stage (the demo sets its index and out)"},
    )
    seed: int = 0
