"""The training job's configuration (YAML + ``--section.field`` flags, see hubbleclip.config)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from hubbleclip.augment import AugmentConfig
from hubbleclip.models.specs import SPEC_HELP


@dataclass
class ModelSection:
    spec: str = field(default="lit-mini", metadata={"help": f"model to fine-tune: {SPEC_HELP}"})


@dataclass
class DataSection:
    path: str = field(default="data/skyset", metadata={"help": "saved DatasetDict (hubbleclip data build)"})
    train_split: str = "train"
    val_split: str = field(default="val", metadata={"help": "validation split ('' = no validation)"})
    captions: Literal["auto", "caption_llm", "caption", "text_chunks"] = field(
        default="auto",
        metadata={
            "help": "text of each pair: auto = caption_llm where that column exists, else caption; "
            "text_chunks = a random run of whole sentences from `text` (PAPERCLIP's raw abstracts)"
        },
    )
    chunk_words: int = field(default=77, metadata={"help": "text_chunks: at most this many words"})
    max_train_rows: int = field(
        default=0, metadata={"help": "use only the first N imaged train rows (0 = all)"}
    )
    num_workers: int = field(default=0, metadata={"help": "DataLoader worker processes"})
    webdataset: str = field(
        default="",
        metadata={
            "help": "train from WebDataset shards instead of data.path, e.g. 'DIR/train/{00000..00009}.tar' "
            "(brace patterns as in open_clip; hubbleclip data export --format webdataset writes them)"
        },
    )
    val_webdataset: str = field(
        default="", metadata={"help": "with data.webdataset: validation shards ('' = no validation)"}
    )
    resampled: bool = field(
        default=False,
        metadata={"help": "webdataset: draw shards with replacement (open_clip's --dataset-resampled)"},
    )
    shuffle_buffer: int = field(default=1000, metadata={"help": "webdataset: samples in the shuffle buffer"})


@dataclass
class FreezeSection:
    lock_image: bool = field(
        default=False, metadata={"help": "freeze the image tower (its projection head still trains)"}
    )
    lock_text: bool = field(
        default=False, metadata={"help": "freeze the text tower (its projection head still trains)"}
    )
    unlock_image_blocks: int = field(
        default=0, metadata={"help": "with lock_image: train the last N image blocks"}
    )
    unlock_text_blocks: int = field(
        default=0, metadata={"help": "with lock_text: train the last N text blocks"}
    )
    lora_image: bool = field(default=False, metadata={"help": "LoRA adapters on the (frozen) image tower"})
    lora_text: bool = field(default=False, metadata={"help": "LoRA adapters on the (frozen) text tower"})
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.0
    train_logit_scale: bool = field(default=True, metadata={"help": "learn the temperature"})
    cache_features: bool = field(
        default=True,
        metadata={
            "help": (
                "compute a fully locked tower's features once and reuse them (images: without augmentation)"
            )
        },
    )
    cache_dir: str = field(
        default="", metadata={"help": "feature cache directory ('' = $HUBBLECLIP_CACHE/features)"}
    )


@dataclass
class LossSection:
    kind: Literal["infonce", "siglip"] = field(
        default="infonce",
        metadata={
            "help": "infonce = symmetric softmax contrastive loss (CLIP); siglip = pairwise sigmoid loss"
        },
    )


@dataclass
class OptimSection:
    lr: float = 1e-3
    weight_decay: float = field(
        default=0.01, metadata={"help": "AdamW weight decay (not on biases, norms, temperature)"}
    )
    beta1: float = 0.9
    beta2: float = 0.98
    eps: float = 1e-6
    batch_size: int = field(
        default=64, metadata={"help": "pairs per contrastive batch, summed over processes"}
    )
    grad_accum_steps: int = field(default=1, metadata={"help": "contrastive batches per optimizer step"})
    max_steps: int = field(default=500, metadata={"help": "optimizer steps"})
    warmup_steps: int = field(default=0, metadata={"help": "linear warm-up steps"})
    schedule: Literal["constant", "cosine"] = field(
        default="constant", metadata={"help": "after the warm-up"}
    )
    max_grad_norm: float = field(default=1.0, metadata={"help": "gradient clipping (0 = off)"})
    mixed_precision: Literal["no", "fp16", "bf16"] = "no"


@dataclass
class EvalSection:
    every_steps: int = field(default=100, metadata={"help": "validate every N steps (and at the end)"})
    batch_size: int = field(
        default=100, metadata={"help": "in-batch retrieval over this many pairs (PAPERCLIP: 100)"}
    )
    top_k: int = field(default=10, metadata={"help": "report top-1 and top-k in-batch accuracy"})


@dataclass
class CheckpointSection:
    every_steps: int = field(
        default=100, metadata={"help": "save a checkpoint every N steps (and at the end)"}
    )
    keep_best: int = field(
        default=2, metadata={"help": "keep the best K by validation loss (plus the latest)"}
    )
    export: Literal["best", "last"] = field(
        default="last",
        metadata={
            "help": "what export/ holds: the checkpoint with the lowest validation loss, or the last step"
        },
    )


@dataclass
class TrainingRunConfig:
    """What the run skeleton of every trainer reads (hubbleclip.training.session)."""

    out: str = field(
        default="runs/train", metadata={"help": "output directory (the run: checkpoints, export, logs)"}
    )
    resume: str = field(default="", metadata={"help": "'latest' or a checkpoint directory to continue from"})
    overwrite: bool = field(
        default=False, metadata={"help": "start afresh in an output directory that has checkpoints"}
    )


@dataclass
class TrainConfig(TrainingRunConfig):
    seed: int = 0
    log_every: int = field(default=10, metadata={"help": "log training metrics every N steps"})
    threads: int = field(default=0, metadata={"help": "torch CPU threads per process (0 = torch's default)"})
    model: ModelSection = field(default_factory=ModelSection)
    data: DataSection = field(default_factory=DataSection)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    freeze: FreezeSection = field(default_factory=FreezeSection)
    loss: LossSection = field(default_factory=LossSection)
    optim: OptimSection = field(default_factory=OptimSection)
    eval: EvalSection = field(default_factory=EvalSection)
    checkpoint: CheckpointSection = field(default_factory=CheckpointSection)
