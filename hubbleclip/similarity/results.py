"""What a similar-images answer is made of, written the same way everywhere: ``hubbleclip similar
--json``, the demo's ``similar.json`` and the web API (whose ``ImageCard`` and ``ClusterOut`` in
:mod:`hubbleclip.web.schemas` mirror these field for field)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields


@dataclass(frozen=True)
class SimilarImage:
    image_id: str
    object_id: str
    names: list[str]
    type: str
    source: str
    credit: str
    score: float | None = None  # cosine to the query (+ selection); None for the query and the selection

    @classmethod
    def from_item(cls, item: dict, score: float | None = None) -> SimilarImage:
        """From a similarity-index item (``items.json``; indexes built before credits had none)."""
        return cls(
            image_id=item["id"],
            object_id=item["object_id"],
            names=[n for n in item.get("names") or [] if n],
            type=item["type"],
            source=item["source"],
            credit=item.get("credit") or "",
            score=score,
        )

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> SimilarImage:
        return cls(**{f.name: d[f.name] for f in fields(cls) if f.name in d})


@dataclass(frozen=True)
class SimilarCluster:
    """A quick-select cluster: its representative, the ids of its members nearest to it, its size."""

    representative: SimilarImage
    members: list[str]
    size: int

    def to_dict(self) -> dict:
        return {"representative": self.representative.to_dict(), "members": self.members, "size": self.size}

    @classmethod
    def from_dict(cls, d: dict) -> SimilarCluster:
        return cls(SimilarImage.from_dict(d["representative"]), list(d["members"]), int(d["size"]))
