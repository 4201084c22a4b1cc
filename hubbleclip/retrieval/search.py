"""Search an index by text or by image: candidates, features, learned (or fallback) ranking, hits.

``Searcher.open(INDEX_DIR)`` loads the index (memory-mapped), the encoder named in its manifest
and the ranker in ``INDEX_DIR/ranker`` if one was installed there (else BM25 + CLIP fallback).
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from hubbleclip.data.build import IMAGE_ERRORS, encode_image
from hubbleclip.data.text import sexagesimal
from hubbleclip.errors import UserError
from hubbleclip.models.embed import ClipEncoder
from hubbleclip.retrieval.features import Query, fallback_scores, image_query, text_query
from hubbleclip.retrieval.index import RetrievalIndex
from hubbleclip.retrieval.ranker import Ranker

log = logging.getLogger(__name__)
MAX_QUERY_CHARS = 500
RANKER_DIR = "ranker"


@dataclass
class Hit:
    rank: int
    object_id: str
    names: list[str]
    type: str
    ra_deg: float
    dec_deg: float
    position: str  # sexagesimal RA/Dec (J2000)
    constellation: str
    mag: float | None
    size_arcmin: float | None
    score: float
    image: str  # where the object's image is stored: DATASET::split:row ('' if none)
    image_id: str  # the dataset row id of that image, e.g. stellarium:m31 ('' if none)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class SearchResult:
    query: str
    kind: str
    ranking: str  # "learned" or "fallback"
    hits: list[Hit]
    note: str = ""

    def to_dict(self) -> dict:
        return {
            "query": self.query,
            "kind": self.kind,
            "ranking": self.ranking,
            "note": self.note,
            "hits": [h.to_dict() for h in self.hits],
        }


def _catalog_float(x) -> float | None:
    """Catalog values are float32: round away the widening noise (8.8 -> 8.800000190734863)."""
    x = float(x)
    return round(x, 4) if math.isfinite(x) else None


class Searcher:
    def __init__(self, index: RetrievalIndex, encoder, ranker=None, n_candidates: int = 100):
        from threadpoolctl import ThreadpoolController

        self.index, self.encoder, self.ranker, self.n_candidates = index, encoder, ranker, n_candidates
        # A query's matrix-vector products are small: extra BLAS threads only fight torch's OpenMP
        # threads for the cores (measured: median query 24 ms -> 10 ms on 2 cores).
        self._threads = ThreadpoolController()

    def _one_blas_thread(self):
        return self._threads.limit(limits=1, user_api="blas")

    @classmethod
    def open(
        cls,
        index_dir: str | Path,
        ranker_dir: str | Path | None = None,
        device: str = "cpu",
        n_candidates: int = 100,
        encoder=None,
    ) -> Searcher:
        index = RetrievalIndex.load(index_dir)
        if ranker_dir is None and (Path(index_dir) / RANKER_DIR).is_dir():
            ranker_dir = Path(index_dir) / RANKER_DIR
        ranker = Ranker.load(ranker_dir) if ranker_dir else None
        return cls(index, encoder or ClipEncoder(index.model_spec, device=device), ranker, n_candidates)

    # --- queries ------------------------------------------------------------------------------
    def text(self, text: str) -> Query:
        text = (text or "").strip()
        if not text:
            raise UserError(
                'empty query: type a name ("andromeda galaxy") or a description '
                '("bright planetary nebulae"), or pass --image FILE'
            )
        if len(text) > MAX_QUERY_CHARS:
            raise UserError(f"query is {len(text)} characters long; keep it under {MAX_QUERY_CHARS}")
        with self._one_blas_thread():
            return text_query(self.index, self.encoder, text, self.n_candidates)

    def image(self, image) -> Query:
        with self._one_blas_thread():
            return image_query(self.index, self.encoder, image, self.n_candidates)

    def scores(self, query: Query) -> np.ndarray:
        """Scores of the query's candidates: the learned ranker's, or the fallback's."""
        return self.ranker.score(query.features) if self.ranker is not None else fallback_scores(query)

    def ranked(self, query: Query) -> tuple[np.ndarray, np.ndarray]:
        scores = self.scores(query)
        order = np.argsort(-scores, kind="stable")
        return query.candidates[order], scores[order]

    # --- results ------------------------------------------------------------------------------
    def hits(self, query: Query, k: int = 10) -> list[Hit]:
        objects, scores = self.ranked(query)
        c = self.index.corpus
        out = []
        for rank, (i, score) in enumerate(zip(objects[:k], scores[:k]), start=1):
            ra, dec = float(c.ra_deg[i]), float(c.dec_deg[i])
            out.append(
                Hit(
                    rank=rank,
                    object_id=c.object_id[i],
                    names=list(c.names[i]),
                    type=c.type[i],
                    ra_deg=ra,
                    dec_deg=dec,
                    position=sexagesimal(ra, dec) if math.isfinite(ra) and math.isfinite(dec) else "unknown",
                    constellation=c.constellation[i],
                    mag=_catalog_float(c.mag[i]),
                    size_arcmin=_catalog_float(c.size_arcmin[i]),
                    score=float(score),
                    image=self.index.image_path(i),
                    image_id=(c.image_ids[i] or [""])[0],
                )
            )
        return out

    def search(self, text: str | None = None, image=None, k: int = 10) -> SearchResult:
        if (text is None) == (image is None):
            raise UserError("give either a text query or an image, not both or neither")
        query = self.text(text) if text is not None else self.image(image)
        return SearchResult(
            query=text if text is not None else "<image>",
            kind=query.kind,
            ranking="learned" if self.ranker is not None else "fallback",
            hits=self.hits(query, k),
            note=query.note,
        )


def open_image(path: str | Path, max_size: int = 1024):
    """A user's image prepared like skyset images (alpha flattened onto black sky, shrunk), as RGB."""
    import io

    from PIL import Image

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: image file not found")
    try:
        return Image.open(io.BytesIO(encode_image(path, max_size))).convert("RGB")
    except IMAGE_ERRORS as exc:
        raise UserError(f"{path}: not a readable image ({exc})") from exc


def format_table(result: SearchResult) -> str:
    """A plain-text table: rank, names, type, RA/Dec, constellation, magnitude, score, image."""
    rows = [("#", "names", "type", "RA / Dec (J2000)", "constellation", "mag", "score", "image")]
    for h in result.hits:
        rows.append(
            (
                str(h.rank),
                ", ".join(h.names[:3])[:48],
                h.type,
                h.position.replace("RA ", "").replace("Dec ", ""),
                h.constellation,
                f"{h.mag:.1f}" if h.mag is not None else "-",
                f"{h.score:.3f}",
                h.image_id or "-",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows]
    head = f"{result.kind} query {result.query!r}, ranked by {result.ranking}"
    return "\n".join([head, *([f"note: {result.note}"] if result.note else []), *lines])
