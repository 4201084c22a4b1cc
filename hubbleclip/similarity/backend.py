"""Which neighbour backend a build uses, and what an approximate build records.

The choice follows autofaiss's rules, kept in-house (autofaiss 2.18 pins numpy < 2): exact search
up to ``exact_max`` vectors; above it an inverted file of about 4 sqrt(N) lists (``IVF{c},Flat``)
when the flat vectors fit the memory budget, else product-quantised lists (``IVF{c},PQ{m}``).
HNSW is not chosen: an all-pairs table searches every vector once, which inverted lists do in
large batches, while an HNSW graph of a million vectors takes longer to build than IVF takes to
search.  An explicit ``--faiss_factory HNSW32`` still works.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import numpy as np

from hubbleclip.errors import UserError
from hubbleclip.similarity.config import NeighboursSection

BACKENDS = ("auto", "exact", "faiss")
ID_BYTES = 8  # faiss keeps an int64 id next to each vector of an inverted list
PQ_SIZES = (64, 32, 16, 8, 4)  # bytes per vector of IVF-PQ, largest first
DEFAULTS = NeighboursSection()  # the one home of the defaults (memory budget, exact_max, recall)


@dataclass(frozen=True)
class NeighbourPlan:
    """The backend of one build: ``exact``, or ``faiss`` with its index factory string."""

    backend: str
    factory: str = ""
    reason: str = ""
    automatic: bool = False  # chosen by choose_plan: may fall back to exact when IVF cannot reach recall


@dataclass(frozen=True)
class NeighbourBuild:
    """What a neighbour build used and reached.  ``recall_at_k`` is the mean share of each sampled
    query's exact top-k found by the build; ``recall_queries`` = 0 means exact by construction."""

    backend: str
    factory: str
    nprobe: int | None
    k: int
    recall_at_k: float
    recall_queries: int
    build_seconds: float  # training, nprobe tuning and the recall measurement
    reason: str

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> NeighbourBuild:
        return cls(**{f.name: d[f.name] for f in fields(cls)})

    def describe(self) -> str:
        if self.backend == "exact":
            return f"neighbours: exact ({self.reason}), recall@{self.k} 1.0 by construction"
        probe = f", nprobe {self.nprobe}" if self.nprobe is not None else ""
        return (
            f"neighbours: faiss {self.factory}{probe} ({self.reason}); recall@{self.k} "
            f"{self.recall_at_k:.4f} against exact on {self.recall_queries} sampled queries; "
            f"index built and measured in {self.build_seconds:.1f} s"
        )


def ivf_lists(n: int) -> int:
    """Inverted lists for ``n`` vectors: about 4 sqrt(n) (autofaiss: 4 to 16 sqrt(n)), and at most
    n / 39 so that k-means has the 39 training points per list faiss asks for."""
    return max(1, min(round(4 * math.sqrt(n)), n // 39))


def choose_plan(
    n: int, dim: int, memory_gb: float = DEFAULTS.memory_gb, exact_max: int = DEFAULTS.exact_max
) -> NeighbourPlan:
    """The backend for ``n`` vectors of width ``dim`` within ``memory_gb`` of index memory."""
    if n <= exact_max:
        return NeighbourPlan("exact", "", f"{n} vectors <= exact_max {exact_max}")
    lists = ivf_lists(n)
    budget = memory_gb * 1e9
    flat = n * (dim * 4 + ID_BYTES)
    if flat <= budget:
        return NeighbourPlan(
            "faiss",
            f"IVF{lists},Flat",
            f"{n} vectors, flat {flat / 1e9:.2f} GB within {memory_gb:g} GB",
            True,
        )
    for m in PQ_SIZES:
        if dim % m == 0 and n * (m + ID_BYTES) <= budget:
            return NeighbourPlan(
                "faiss",
                f"IVF{lists},PQ{m}",
                f"{n} vectors, flat {flat / 1e9:.2f} GB over {memory_gb:g} GB: {m}-byte codes",
                True,
            )
    raise UserError(
        f"{n} x {dim} vectors do not fit {memory_gb:g} GB even as IVF-PQ; raise the memory budget (memory_gb)"
    )


def resolve_plan(
    backend: str,
    factory: str,
    n: int,
    dim: int,
    memory_gb: float = DEFAULTS.memory_gb,
    exact_max: int = DEFAULTS.exact_max,
) -> NeighbourPlan:
    """The plan for ``backend`` (auto, exact, or faiss with ``factory``; '' = the automatic factory)."""
    if backend == "auto":
        return choose_plan(n, dim, memory_gb, exact_max)
    if backend == "exact":
        return NeighbourPlan("exact", "", "backend exact")
    if backend == "faiss":
        return NeighbourPlan("faiss", factory or choose_plan(n, dim, memory_gb, 0).factory, "backend faiss")
    raise UserError(f"unknown neighbour backend {backend!r}; expected one of {list(BACKENDS)}")


def sample_queries(n: int, count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two disjoint sorted samples of rows: up to 256 to tune nprobe on, then up to ``count`` to
    measure recall on.  When ``n`` is small the measuring sample keeps what there is."""
    rows = np.random.default_rng(seed).permutation(n)
    measure = rows[: max(1, min(count, n))]
    rest = rows[len(measure) :]
    tune = rest[:256] if len(rest) >= 64 else measure[:256]  # small n: tune on the measured rows
    return np.sort(tune), np.sort(measure)


def recall_at_k(found: np.ndarray, exact: np.ndarray) -> float:
    """Mean over rows of the share of ``exact``'s indices [Q, k] (-1 = none) that ``found`` has."""
    found, exact = np.asarray(found), np.asarray(exact)
    hit = (exact[:, :, None] == found[:, None, :]).any(-1) & (exact >= 0)
    wanted = (exact >= 0).sum(1)
    return float(np.mean(np.where(wanted > 0, hit.sum(1) / np.maximum(wanted, 1), 1.0)))
