"""Search an index by text or by image: candidates, features, learned (or fallback) ranking, hits.

``Searcher.open(INDEX_DIR)`` loads the index (memory-mapped), the encoder named in its manifest
and the ranker in ``INDEX_DIR/ranker`` if one was installed there (else BM25 + CLIP fallback).
A query gathers a few hundred candidates (``CandidateConfig``: BM25 top-N, CLIP nearest neighbours,
what the resolver found) and only those are scored.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from hubbleclip.access.cache import MaskKeyedCache
from hubbleclip.data.build import IMAGE_ERRORS, encode_image
from hubbleclip.data.text import sexagesimal
from hubbleclip.errors import UserError
from hubbleclip.search.cone import cone
from hubbleclip.search.config import CandidateConfig
from hubbleclip.search.features import FIELD_RADIUS_DEG, Query, fallback_scores, image_query, text_query
from hubbleclip.search.index import SearchIndex
from hubbleclip.search.names import NameResolver
from hubbleclip.search.ranker import Ranker
from hubbleclip.search.understand import FilterColumns, plan_query

log = logging.getLogger(__name__)
MAX_QUERY_CHARS = 500
MAX_RESTRICTED_RESOLVERS = 8  # distinct access masks (callers) whose name tables are kept
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
    score: float  # higher first; see Ranking for what it measures
    image: str  # where the object's image is stored: DATASET::split:row ('' if none)
    image_id: str  # the dataset row id of that image, e.g. stellarium:m31 ('' if none)
    match: str = "ranker"  # why it is here: exact name | fuzzy name | cone | magnitude | ranker
    separation_arcsec: float | None = None  # from the centre of a cone search
    n_images: int = 0  # images of this entry

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class SearchResult:
    query: str
    kind: str
    ranking: str  # learned | fallback | separation | magnitude, after "exact name, " / "fuzzy name, "
    hits: list[Hit]
    note: str = ""  # how the query was read, or why it is unusual

    def to_dict(self) -> dict:
        return {
            "query": self.query,
            "kind": self.kind,
            "ranking": self.ranking,
            "note": self.note,
            "hits": [h.to_dict() for h in self.hits],
        }


@dataclass
class Ranking:
    """Corpus indices best first, with a score each (higher first):

    * the learned ranker's score (or the fallback's), a resolved name lifted above all others
      by a constant, so the ranker still orders several objects sharing one name;
    * minus the separation in arcsec for a cone ordered by distance;
    * minus the magnitude (brightest first) or the magnitude (faintest first).
    """

    rows: np.ndarray
    scores: np.ndarray
    match: list[str]
    ranking: str
    note: str = ""
    separation_arcsec: dict[int, float] | None = None


def _catalog_float(x) -> float | None:
    """Catalog values are float32: round away the widening noise (8.8 -> 8.800000190734863)."""
    x = float(x)
    return round(x, 4) if math.isfinite(x) else None


class Searcher:
    def __init__(
        self,
        index: SearchIndex,
        encoder,
        ranker=None,
        n_candidates: int = 100,
        understand: bool = True,
        candidates: CandidateConfig | None = None,
    ):
        """``n_candidates``: BM25 and CLIP top-N each, unless ``candidates`` says more."""
        from threadpoolctl import ThreadpoolController

        self.index, self.encoder, self.ranker = index, encoder, ranker
        self.candidates = candidates or CandidateConfig(dense=n_candidates, bm25=n_candidates)
        self.dense = index.dense_neighbours(self.candidates)
        # understand=False answers every text query with the ranker alone (the search before the
        # resolver stage; evaluations compare the two)
        self.understand = understand
        self.resolver = NameResolver.from_corpus(index.corpus)
        self._restricted = MaskKeyedCache(self.resolver.restricted, keep=MAX_RESTRICTED_RESOLVERS)
        self._filter_columns = FilterColumns.of(index.corpus)
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
        model: str | None = None,
        candidates: CandidateConfig | None = None,
    ) -> Searcher:
        """``model``: another copy of the index's model (checked against its weights digest)."""
        index = SearchIndex.load(index_dir)
        if ranker_dir is None and (Path(index_dir) / RANKER_DIR).is_dir():
            ranker_dir = Path(index_dir) / RANKER_DIR
        ranker = Ranker.load(ranker_dir) if ranker_dir else None
        encoder = encoder or index.query_encoder(device, model)
        return cls(index, encoder, ranker, n_candidates, candidates=candidates)

    # --- queries ------------------------------------------------------------------------------
    @staticmethod
    def _checked(text: str) -> str:
        text = (text or "").strip()
        if not text:
            raise UserError(
                'empty query: type a name ("andromeda galaxy") or a description '
                '("bright planetary nebulae"), or pass --image FILE'
            )
        if len(text) > MAX_QUERY_CHARS:
            raise UserError(f"query is {len(text)} characters long; keep it under {MAX_QUERY_CHARS}")
        return text

    # ``visible``: boolean mask of the entries the caller may see (hubbleclip.access; None = all)
    # ``baselines``: also score the whole corpus (Query.bm25, Query.clip), for the evaluation only
    def text(
        self,
        text: str,
        visible: np.ndarray | None = None,
        allowed: np.ndarray | None = None,
        include=(),
        baselines: bool = False,
    ) -> Query:
        text = self._checked(text)
        with self._one_blas_thread():
            return text_query(
                self.index,
                self.encoder,
                text,
                self.dense,
                self.candidates,
                visible,
                allowed,
                include,
                baselines,
            )

    def image(self, image, visible: np.ndarray | None = None, baselines: bool = False) -> Query:
        with self._one_blas_thread():
            return image_query(
                self.index, self.encoder, image, self.dense, self.candidates, visible, baselines
            )

    def scores(self, query: Query) -> np.ndarray:
        """Scores of the query's candidates: the learned ranker's, or the fallback's."""
        return self.ranker.score(query.features) if self.ranker is not None else fallback_scores(query)

    def ranked(self, query: Query) -> tuple[np.ndarray, np.ndarray]:
        scores = self.scores(query)
        order = np.argsort(-scores, kind="stable")
        return query.candidates[order], scores[order]

    @property
    def ranker_name(self) -> str:
        return "learned" if self.ranker is not None else "fallback"

    # --- text queries, read before ranking ------------------------------------------------------
    def rank_text(self, text: str, visible: np.ndarray | None = None) -> Ranking:
        """Every object this text query returns among the ``visible`` entries, best first (see
        :mod:`hubbleclip.search.understand`)."""
        text = self._checked(text)
        if not self.understand:
            query = self.text(text, visible)
            rows, scores = self.ranked(query)
            return Ranking(rows, scores, ["ranker"] * len(rows), self.ranker_name, query.note)
        # names resolve only to entries the caller may see: a private object is never a centre,
        # a name match or a fuzzy reading
        plan = plan_query(text, self._resolver_for(visible), self.index.corpus, FIELD_RADIUS_DEG)
        allowed = plan.allowed(self._filter_columns)
        if visible is not None:
            allowed = visible if allowed is None else allowed & visible
        if allowed is not None and not allowed.any():
            return self._empty(plan, "no object passes these limits")
        if plan.mode == "cone":
            return self._cone(plan, visible, allowed)
        if plan.mode == "catalogue":
            return self._catalogue(plan, visible, allowed)
        if plan.mode == "name":
            return self._named(plan, visible)
        query = self.text(text, visible)
        rows, scores = self.ranked(query)
        note = "; ".join(filter(None, [plan.describe(), query.note]))
        return Ranking(rows, scores, ["ranker"] * len(rows), self.ranker_name, note)

    def _resolver_for(self, visible: np.ndarray | None) -> NameResolver:
        if visible is None or visible.all():
            return self.resolver
        return self._restricted.get(visible)

    def _empty(self, plan, why: str) -> Ranking:
        note = "; ".join(filter(None, [plan.describe(), why]))
        return Ranking(np.zeros(0, np.int64), np.zeros(0, np.float32), [], "none", note)

    def _by_ranker(
        self, text: str, visible: np.ndarray | None, allowed: np.ndarray | None, note: str
    ) -> Ranking:
        # ``visible`` too, not just ``allowed``: BM25 statistics come from the rows the caller may see
        rows, scores = self.ranked(self.text(text, visible, allowed))
        return Ranking(rows, scores, ["ranker"] * len(rows), self.ranker_name, note)

    def _by_magnitude(self, plan, rows: np.ndarray, note: str) -> Ranking:
        """``rows`` by magnitude, brightest (or faintest) first; unknown magnitudes last."""
        mag = np.asarray(self.index.corpus.mag, np.float64)[rows]
        key = mag if plan.order != "faintest" else -mag
        order = np.argsort(np.nan_to_num(key, nan=np.inf), kind="stable")
        return Ranking(rows[order], -key[order], ["magnitude"] * len(rows), "magnitude", note)

    def _catalogue(self, plan, visible: np.ndarray | None, allowed: np.ndarray | None) -> Ranking:
        if plan.ranker_text:
            return self._by_ranker(plan.ranker_text, visible, allowed, plan.describe())
        known = np.isfinite(np.asarray(self.index.corpus.mag, np.float64))
        allowed = np.ones(len(self.index), bool) if allowed is None else allowed
        note = plan.describe()
        if (allowed & ~known).any():
            note += f"; {int((allowed & ~known).sum())} objects without a magnitude left out"
        return self._by_magnitude(plan, np.flatnonzero(allowed & known), note)

    def _cone(self, plan, visible: np.ndarray | None, allowed: np.ndarray | None) -> Ranking:
        rows, sep = cone(self.index.xyz, plan.center.position.xyz(), plan.radius_deg, allowed)
        if not len(rows):
            return self._empty(plan, "no object in the cone")
        separation = dict(zip(rows.tolist(), sep.tolist()))
        if plan.ranker_text:
            inside = np.zeros(len(self.index), bool)
            inside[rows] = True
            ranking = self._by_ranker(plan.ranker_text, visible, inside, plan.describe())
        elif plan.order:
            ranking = self._by_magnitude(plan, rows, plan.describe())
        else:
            ranking = Ranking(rows, -sep, ["cone"] * len(rows), "separation", plan.describe())
        ranking.separation_arcsec = separation
        return ranking

    def _named(self, plan, visible: np.ndarray | None) -> Ranking:
        match = plan.name
        query = self.text(plan.ranker_text, visible, include=match.rows)
        rows, scores = self.ranked(query)
        named = np.isin(rows, match.rows)
        lift = float(scores.max() - scores[named].min()) + 1.0 if named.any() else 0.0
        order = np.concatenate([np.flatnonzero(named), np.flatnonzero(~named)])
        label = f"{match.how} name"
        # the ranker's own note ("no word of the query is in the catalog") would contradict the name
        note = plan.describe()
        return Ranking(
            rows[order],
            np.where(named, scores + lift, scores)[order],
            [label if n else "ranker" for n in named[order]],
            f"{label}, then {self.ranker_name}",
            note,
        )

    # --- results ------------------------------------------------------------------------------
    def hits(self, ranking: Ranking, k: int = 10) -> list[Hit]:
        c = self.index.corpus
        out = []
        for rank, (i, score, match) in enumerate(
            zip(ranking.rows[:k], ranking.scores[:k], ranking.match[:k]), start=1
        ):
            i = int(i)
            ra, dec = float(c.ra_deg[i]), float(c.dec_deg[i])
            sep = ranking.separation_arcsec.get(i) if ranking.separation_arcsec else None
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
                    match=match,
                    separation_arcsec=None if sep is None else round(float(sep), 2),
                    n_images=len(c.image_ids[i]),
                )
            )
        return out

    def search(
        self, text: str | None = None, image=None, k: int = 10, visible: np.ndarray | None = None
    ) -> SearchResult:
        """Top ``k`` objects among the ``visible`` entries (a mask from hubbleclip.access; None = all)."""
        if (text is None) == (image is None):
            raise UserError("give either a text query or an image, not both or neither")
        if image is not None:
            query = self.image(image, visible)
            rows, scores = self.ranked(query)
            ranking = Ranking(rows, scores, ["ranker"] * len(rows), self.ranker_name, query.note)
        else:
            ranking = self.rank_text(text, visible)
        return SearchResult(
            query=text if text is not None else "<image>",
            kind="text" if text is not None else "image",
            ranking=ranking.ranking,
            hits=self.hits(ranking, k),
            note=ranking.note,
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


def _separation_text(arcsec: float) -> str:
    if arcsec < 60.0:
        return f'{arcsec:.1f}"'
    if arcsec < 3600.0:
        return f"{arcsec / 60.0:.1f}'"
    return f"{arcsec / 3600.0:.2f}°"


def format_table(result: SearchResult) -> str:
    """A plain-text table: rank, names, type, RA/Dec, constellation, magnitude, score, image
    (and the separation, for a cone search)."""
    cone_search = any(h.separation_arcsec is not None for h in result.hits)
    rows = [("#", "names", "type", "RA / Dec (J2000)", "constellation", "mag", "score", "image")]
    rows[0] += ("sep",) if cone_search else ()
    for h in result.hits:
        row = (
            str(h.rank),
            ", ".join(h.names[:3])[:48],
            h.type,
            h.position.replace("RA ", "").replace("Dec ", ""),
            h.constellation,
            f"{h.mag:.1f}" if h.mag is not None else "-",
            f"{h.score:.3f}",
            h.image_id or "-",
        )
        if cone_search:
            row += (_separation_text(h.separation_arcsec) if h.separation_arcsec is not None else "-",)
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows]
    head = f"{result.kind} query {result.query!r}, ranked by {result.ranking}"
    return "\n".join([head, *([f"note: {result.note}"] if result.note else []), *lines])
