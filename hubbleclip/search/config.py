"""Job configurations of the retrieval area (light imports only, so the CLI's --help stays fast)."""

from __future__ import annotations

from dataclasses import dataclass, field

from hubbleclip.metrics.config import BootstrapConfig
from hubbleclip.models.specs import SPEC_HELP


@dataclass
class AnnBuildConfig:
    min_objects: int = field(
        default=50_000,
        metadata={"help": "objects from which the index gets faiss IVF indexes (below: exact search only)"},
    )
    nlist: int = field(default=0, metadata={"help": "IVF lists per faiss index (0 = 4·sqrt(objects))"})
    seed: int = field(default=0, metadata={"help": "seed of the k-means training sample"})


@dataclass
class SearchIndexConfig:
    dataset: str = field(
        default="data/skyset", metadata={"help": "skyset DatasetDict directory (save_to_disk)"}
    )
    model: str = field(default="lit-mini", metadata={"help": f"model: {SPEC_HELP}"})
    out: str = field(default="runs/index", metadata={"help": "index directory to write"})
    include_stars: bool = field(
        default=True, metadata={"help": "add the named bright stars of the ephem list"}
    )
    batch_size: int = field(default=32, metadata={"help": "images per embedding batch"})
    device: str = field(default="cpu", metadata={"help": "torch device for the encoder"})
    cache_dir: str = field(
        default="", metadata={"help": "feature cache directory ('' = $HUBBLECLIP_CACHE/features)"}
    )
    overwrite: bool = field(default=False, metadata={"help": "replace an existing index directory"})
    ann: AnnBuildConfig = field(default_factory=AnnBuildConfig)


@dataclass
class CandidateConfig:
    """How a query gathers the few hundred objects the ranker then orders."""

    dense: int = field(
        default=100, metadata={"help": "nearest objects by CLIP, among object texts and among images, each"}
    )
    bm25: int = field(default=100, metadata={"help": "BM25 top-N over names and over texts, each"})
    ann: str = field(
        default="auto",
        metadata={
            "help": "dense search: auto (faiss IVF where the index has it), exact, approximate "
            "(IVF built in memory if the index has none)"
        },
    )
    nprobe: int = field(default=128, metadata={"help": "IVF lists visited per query"})
    exact_below: int = field(
        default=10_000,
        metadata={"help": "allowed objects below which a restricted query is scored exactly, not by IVF"},
    )


@dataclass
class RankerConfig:
    n_estimators: list[int] = field(
        default_factory=lambda: [50, 100, 200], metadata={"help": "tree counts tried by cross-validation"}
    )
    learning_rate: float = field(default=0.05, metadata={"help": "LightGBM learning rate"})
    num_leaves: int = field(default=15, metadata={"help": "leaves per tree"})
    min_child_samples: int = field(default=20, metadata={"help": "minimum rows per leaf"})
    folds: int = field(default=5, metadata={"help": "query-grouped cross-validation folds"})
    seed: int = field(default=0, metadata={"help": "LightGBM seed"})


@dataclass
class RerankConfig:
    index: str = field(default="runs/index", metadata={"help": "index directory (hubbleclip index build)"})
    queries: str | None = field(
        default=None, metadata={"help": "text queries JSON; default: the packaged file"}
    )
    out: str = field(default="runs/rerank", metadata={"help": "where results.json and the ranker go"})
    candidates: int = field(default=100, metadata={"help": "BM25 and CLIP top-N per candidate source"})
    ann: str = field(
        default="auto",
        metadata={"help": "dense candidates: auto, exact or approximate (see CandidateConfig)"},
    )
    image_queries_first: int = field(
        default=60, metadata={"help": "FIRST radio images used as image queries per split"}
    )
    shuffles: int = field(default=50, metadata={"help": "random orderings averaged for the random baseline"})
    k: int = field(default=10, metadata={"help": "metric cut-off (MAP@k, NDCG@k)"})
    install: bool = field(
        default=True,
        metadata={"help": "also copy the trained ranker into INDEX/ranker for `hubbleclip search`"},
    )
    seed: int = field(
        default=0, metadata={"help": "seed of image-query augmentations and the random baseline"}
    )
    device: str = field(default="cpu", metadata={"help": "torch device for the encoder"})
    ranker: RankerConfig = field(default_factory=RankerConfig)
    bootstrap: BootstrapConfig = field(default_factory=BootstrapConfig)


@dataclass
class KindsConfig:
    index: str = field(default="runs/index", metadata={"help": "index directory (with its ranker)"})
    out: str = field(default="runs/kinds", metadata={"help": "where results.json and queries.json go"})
    per_kind: int = field(default=90, metadata={"help": "generated queries of each kind"})
    seed: int = field(default=0, metadata={"help": "seed of the query generator"})
    k: int = field(default=10, metadata={"help": "metric cut-off (MAP@k)"})
    device: str = field(default="cpu", metadata={"help": "torch device for the encoder"})
    bootstrap: BootstrapConfig = field(default_factory=BootstrapConfig)
