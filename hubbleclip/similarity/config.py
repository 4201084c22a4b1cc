"""Job configurations of the similarity area (torch-free, so config files and ``--help`` load fast)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from hubbleclip.augment import AugmentConfig
from hubbleclip.training.config import CheckpointSection, TrainingRunConfig

ENCODER_HELP = (
    "a model spec (lit-mini, open_clip:..., RUN_DIR or RUN_DIR/export), imagenet, features:SPEC "
    "(the image tower before its head), simclr:RUN_DIR"
)


@dataclass
class NeighboursSection:
    """How neighbour tables are built: exact, faiss, or chosen from the size and the memory budget."""

    backend: Literal["auto", "exact", "faiss"] = field(
        default="auto",
        metadata={"help": "auto (exact up to exact_max vectors, else faiss IVF), exact, or faiss"},
    )
    faiss_factory: str = field(
        default="", metadata={"help": "faiss index factory for backend faiss ('' = the automatic choice)"}
    )
    memory_gb: float = field(default=4.0, metadata={"help": "memory budget of the neighbour index (GB)"})
    exact_max: int = field(default=20_000, metadata={"help": "auto: exact search up to this many vectors"})
    target_recall: float = field(
        default=0.99, metadata={"help": "nprobe grows until recall@k on calibration queries reaches this"}
    )
    recall_queries: int = field(
        default=1000, metadata={"help": "sampled queries for recall@k against exact after a build"}
    )
    k: int = field(default=100, metadata={"help": "k of the recall@k recorded with the index"})
    seed: int = field(default=0, metadata={"help": "seed of the training and query samples"})


@dataclass
class SimilarityIndexConfig:
    dataset: str = field(default="data/skyset", metadata={"help": "saved dataset whose images are indexed"})
    encoder: str = field(default="lit-mini", metadata={"help": f"encoder: {ENCODER_HELP}"})
    out: str = field(default="runs/similarity/index", metadata={"help": "index directory to write"})
    splits: list[str] = field(default_factory=list, metadata={"help": "splits to index (empty = all)"})
    sources: list[str] = field(default_factory=list, metadata={"help": "only these sources (empty = all)"})
    dtype: Literal["float32", "float16"] = field(default="float32", metadata={"help": "stored vector type"})
    batch_size: int = field(default=64, metadata={"help": "images per encoder batch"})
    cache_dir: str = field(
        default="", metadata={"help": "feature cache directory ('' = $HUBBLECLIP_CACHE/features)"}
    )
    neighbours: NeighboursSection = field(default_factory=NeighboursSection)


@dataclass
class EncoderConfig:
    arch: Literal["resnet", "vit"] = field(
        default="resnet", metadata={"help": "backbone: resnet (small-stride ResNet) or vit (GalaxIDNet)"}
    )
    image_size: int = field(
        default=48, metadata={"help": "input size in pixels (ALMA: 48-px crops of 64-px cut-outs)"}
    )
    channels: list[int] = field(
        default_factory=lambda: [32, 64, 128, 256], metadata={"help": "resnet stage widths"}
    )
    layers: list[int] = field(
        default_factory=lambda: [1, 1, 1, 1], metadata={"help": "resnet blocks per stage"}
    )
    stem_stride: int = field(
        default=1, metadata={"help": "resnet first-layer stride (ImageNet ResNets: 2 + max-pool)"}
    )
    patch_size: int = field(default=16, metadata={"help": "vit patch size (GalaxIDNet: 16)"})
    vit_dim: int = field(default=256, metadata={"help": "vit hidden size (GalaxIDNet: 1024)"})
    vit_depth: int = field(default=3, metadata={"help": "vit blocks (GalaxIDNet: 3)"})
    vit_heads: int = field(default=4, metadata={"help": "vit attention heads (GalaxIDNet: 4)"})
    proj_hidden: int = field(default=512, metadata={"help": "projection head hidden width"})
    proj_dim: int = field(default=128, metadata={"help": "projection head output (loss space)"})


def _alma_augment() -> AugmentConfig:
    return AugmentConfig(
        rotate_degrees=180, shear_degrees=10, scale_min=0.4, scale_max=2.0, crop_scale_min=0.6
    )


@dataclass
class SimCLRDataSection:
    path: str = field(
        default="data/skyset", metadata={"help": "saved dataset, .zip of images or image folder"}
    )
    splits: list[str] = field(
        default_factory=lambda: ["train"], metadata={"help": "dataset splits to train on"}
    )
    sources: list[str] = field(
        default_factory=list, metadata={"help": "only these sources (e.g. first); empty = all"}
    )
    limit: int = field(default=0, metadata={"help": "use at most this many images (0 = all)"})


@dataclass
class SimCLROptimSection:
    lr: float = field(default=1e-3, metadata={"help": "AdamW learning rate"})
    weight_decay: float = field(default=1e-4, metadata={"help": "AdamW weight decay"})
    batch_size: int = field(
        default=128, metadata={"help": "images per step (2 views each), summed over processes"}
    )
    epochs: int = field(default=10, metadata={"help": "passes over the images"})
    max_steps: int = field(default=0, metadata={"help": "stop after this many steps (0 = no limit)"})
    warmup_steps: int = field(default=10, metadata={"help": "linear warm-up steps"})


@dataclass
class SimCLREvalSection:
    every_steps: int = field(
        default=50, metadata={"help": "validate every N steps (and at the end): loss and loose accuracy"}
    )
    images: int = field(default=500, metadata={"help": "two fixed views of up to this many training images"})


def _simclr_checkpoint() -> CheckpointSection:
    return CheckpointSection(every_steps=50)


@dataclass
class SimCLRConfig(TrainingRunConfig):
    """Self-supervised image encoder training: SimCLR NT-Xent or GalaxIDNet's pair loss."""

    out: str = field(default="runs/simclr", metadata={"help": "output directory"})
    loss: Literal["ntxent", "pair"] = field(
        default="ntxent", metadata={"help": "ntxent (SimCLR) or pair (GalaxIDNet margin contrastive)"}
    )
    temperature: float = field(default=0.1, metadata={"help": "NT-Xent temperature"})
    margin: float = field(default=1.0, metadata={"help": "pair-loss margin m"})
    seed: int = field(default=0, metadata={"help": "random seed"})
    threads: int = field(default=2, metadata={"help": "torch CPU threads per process"})
    log_every: int = field(default=10, metadata={"help": "log the loss every N steps"})
    data: SimCLRDataSection = field(default_factory=SimCLRDataSection)
    model: EncoderConfig = field(default_factory=EncoderConfig)
    augment: AugmentConfig = field(default_factory=_alma_augment)
    optim: SimCLROptimSection = field(default_factory=SimCLROptimSection)
    eval: SimCLREvalSection = field(default_factory=SimCLREvalSection)
    checkpoint: CheckpointSection = field(default_factory=_simclr_checkpoint)


def _view_augment() -> AugmentConfig:
    return AugmentConfig(rotate_degrees=180, shear_degrees=10, scale_min=0.8, scale_max=1.25)


@dataclass
class SimilarityEvalConfig:
    """Label precision@10, mAP@100 and mini-search loose accuracy of encoders on FIRST images."""

    dataset: str = field(default="data/skyset", metadata={"help": "saved dataset (skyset)"})
    splits: list[str] = field(
        default_factory=lambda: ["test"], metadata={"help": "splits whose images are evaluated"}
    )
    sources: list[str] = field(
        default_factory=lambda: ["first"], metadata={"help": "image sources (labels = type)"}
    )
    encoders: list[str] = field(
        default_factory=lambda: ["random", "imagenet", "lit-mini"],
        metadata={"help": f"encoder specs: random (a baseline of random vectors), or {ENCODER_HELP}"},
    )
    precision_k: int = field(default=10, metadata={"help": "k of label precision@k"})
    map_k: int = field(default=100, metadata={"help": "k of mAP@k"})
    loose_batch: int = field(
        default=100, metadata={"help": "mini-search group size (1 positive + batch-1 negatives)"}
    )
    view_augment: AugmentConfig = field(default_factory=_view_augment)
    seed: int = field(default=0, metadata={"help": "seed for the random baseline and the views"})
    cache_dir: str = field(
        default="", metadata={"help": "feature cache directory ('' = $HUBBLECLIP_CACHE/features)"}
    )
    out: str = field(
        default="runs/similarity-eval", metadata={"help": "output directory (results.json, results.md)"}
    )
