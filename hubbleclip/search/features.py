"""Candidates of a query and the features of each (query, object) pair.

Candidates are the union of BM25 top-N (names, texts), the CLIP nearest neighbours of the query
among object texts and among object images (:mod:`hubbleclip.search.ann`: exact on a small index,
faiss IVF on a large one) and what the resolver adds, all among the objects the caller may see
(``visible``: a boolean mask from :mod:`hubbleclip.access`; BM25 statistics are those of the
visible objects too); an image query adds the objects in the same field as its best image match.
CLIP features are then computed for the candidates only.  One feature vector serves text and image
queries (LightGBM treats NaN as missing), so one ranker handles both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hubbleclip.search.ann import DenseNeighbours, top_n
from hubbleclip.search.config import CandidateConfig
from hubbleclip.search.text import (
    cached_tokens,
    contains_phrase,
    mentions_brightness,
    tokenize,
    type_mention,
)

FEATURES = (
    "is_image_query",
    # text queries
    "bm25_names",
    "bm25_text",
    "bm25_names_rel",
    "bm25_text_rel",
    "clip_text",
    "clip_image",
    "clip_text_gap",
    "clip_image_gap",
    "name_match",
    "name_overlap",
    "query_names_object",
    "type_mention",
    "const_mention",
    "query_bright",
    # image queries
    "img_img",
    "img_text",
    "img_img_gap",
    "img_text_gap",
    "sep_to_best_log",
    "same_type_as_best",
    # the object
    "has_image",
    "mag",
    "log_size",
    "n_names",
)
FIELD_RADIUS_DEG = 1.0  # "same field" radius around an image query's best image match
FIELD_MAX = 50


@dataclass
class Query:
    """One query's candidate set and features.  ``bm25`` and ``clip`` score the whole corpus, for
    the evaluation's baselines only (``baselines=True``); a search leaves them None."""

    kind: str  # "text" or "image"
    candidates: np.ndarray  # corpus indices
    features: np.ndarray  # [len(candidates), len(FEATURES)] float32
    bm25: np.ndarray | None  # whole-corpus BM25 (names + text); None for image queries
    clip: np.ndarray | None  # whole-corpus CLIP score (best of the object's text and image)
    note: str = ""


def _same_field(index, best: int, visible: np.ndarray | None) -> np.ndarray:
    """Visible objects within FIELD_RADIUS_DEG of the best image match, nearest first (a patch of sky)."""
    cos = index.xyz @ np.asarray(index.xyz[best], np.float32)
    near = np.flatnonzero(_both(cos >= np.cos(np.radians(FIELD_RADIUS_DEG)), visible))
    return near[np.argsort(-cos[near])[:FIELD_MAX]]


def _object_features(index, cand: np.ndarray, X: np.ndarray) -> None:
    col = {f: i for i, f in enumerate(FEATURES)}
    X[:, col["has_image"]] = index.has_image[cand]
    X[:, col["mag"]] = index.corpus.mag[cand]
    size = np.asarray(index.corpus.size_arcmin[cand], np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        X[:, col["log_size"]] = np.where(size > 0, np.log10(size), np.nan)
    X[:, col["n_names"]] = [len(index.corpus.names[i]) for i in cand]


def _both(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
    """Rows in both masks (None: no limit), without building an all-true mask."""
    return a if b is None else b if a is None else a & b


def _whole_corpus_clip(index, q: np.ndarray) -> np.ndarray:
    """Best of the query's CLIP similarity to each object's text and image (evaluation baselines)."""
    return np.fmax(index.emb_text @ q, np.where(index.has_image, index.emb_image @ q, np.nan))


def text_query(
    index,
    encoder,
    text: str,
    dense: dict[str, DenseNeighbours],
    cfg: CandidateConfig,
    visible: np.ndarray | None = None,
    allowed: np.ndarray | None = None,
    include=(),
    baselines: bool = False,
) -> Query:
    """Candidates and features of a text query; ``visible`` (the caller's access mask) and
    ``allowed`` (a resolver's filter) limit the candidates, ``include`` adds corpus indices to them
    (a resolved name) when the caller may see them; ``baselines`` also scores the whole corpus."""
    within = _both(visible, allowed)
    include = np.asarray([i for i in include if visible is None or visible[i]], np.int64)
    tokens = tokenize(text)
    names_field, text_field = index.bm25(visible)
    # sparse: bm25s adds up the postings of the query's terms only
    s_names, s_text = names_field.scores(tokens), text_field.scores(tokens)
    q = np.asarray(encoder.embed_texts([text])[0], np.float32)
    cand = np.unique(
        np.concatenate(
            [
                top_n(s_names, cfg.bm25, _both(s_names > 0, within)),
                top_n(s_text, cfg.bm25, _both(s_text > 0, within)),
                dense["text"].search(q, cfg.dense, within),
                dense["image"].search(q, cfg.dense, within),
                include,
            ]
        )
    )
    c_text = np.asarray(index.emb_text[cand] @ q)
    c_image = np.where(index.has_image[cand], index.emb_image[cand] @ q, np.nan)
    col = {f: i for i, f in enumerate(FEATURES)}
    X = np.full((len(cand), len(FEATURES)), np.nan, np.float32)
    X[:, col["is_image_query"]] = 0.0
    for name, full in (("bm25_names", s_names), ("bm25_text", s_text)):
        X[:, col[name]] = full[cand]
        X[:, col[f"{name}_rel"]] = full[cand] / max(float(full[cand].max(initial=0.0)), 1e-6)
    X[:, col["clip_text"]] = c_text
    X[:, col["clip_image"]] = c_image
    X[:, col["clip_text_gap"]] = c_text - c_text.max(initial=-np.inf)
    if np.isfinite(c_image).any():
        X[:, col["clip_image_gap"]] = c_image - np.nanmax(c_image)
    matches, overlaps, types, consts = [], [], {}, {}
    qset = set(tokens)
    for i in cand:
        names = [t for t in index.name_tokens[i] if t]
        matches.append(float(any(contains_phrase(tokens, t) for t in names)))
        overlaps.append(max((len(qset.intersection(t)) / len(t) for t in names), default=0.0))
        label, const = index.corpus.type[i], index.corpus.constellation[i]
        if label not in types:
            types[label] = type_mention(tokens, label)
        if const not in consts:
            consts[const] = float(contains_phrase(tokens, cached_tokens(const)))
    X[:, col["name_match"]] = matches
    # query-level: some candidate's name is in the query, so this is a name query
    X[:, col["query_names_object"]] = max(matches, default=0.0)
    X[:, col["name_overlap"]] = overlaps
    X[:, col["type_mention"]] = [types[index.corpus.type[i]] for i in cand]
    X[:, col["const_mention"]] = [consts[index.corpus.constellation[i]] for i in cand]
    X[:, col["query_bright"]] = float(mentions_brightness(text))
    _object_features(index, cand, X)
    # BM25 is 0 outside ``visible`` (the fields are built over the visible rows)
    note = (
        ""
        if s_names.any() or s_text.any()
        else "no word of the query is in the catalog; ranked by CLIP similarity only"
    )
    if not baselines:
        return Query("text", cand, X, None, None, note)
    return Query("text", cand, X, s_names + s_text, _whole_corpus_clip(index, q), note)


def image_query(
    index,
    encoder,
    image,
    dense: dict[str, DenseNeighbours],
    cfg: CandidateConfig,
    visible: np.ndarray | None = None,
    baselines: bool = False,
) -> Query:
    rgb = image if image.mode == "RGB" else image.convert("RGB")  # no copy of an upload's pixels
    q = np.asarray(encoder.embed_images([rgb])[0], np.float32)
    parts = [dense["text"].search(q, cfg.dense, visible)]
    best = None
    # sorted, so that of equal scores the first row is the best, as a whole-corpus argmax picks
    near_images = np.sort(dense["image"].search(q, cfg.dense, visible))
    if len(near_images):
        best = int(near_images[np.argmax(index.emb_image[near_images] @ q)])
        parts += [near_images, _same_field(index, best, visible)]
    cand = np.unique(np.concatenate(parts))
    i_img = np.where(index.has_image[cand], index.emb_image[cand] @ q, np.nan)
    i_text = np.asarray(index.emb_text[cand] @ q)
    col = {f: i for i, f in enumerate(FEATURES)}
    X = np.full((len(cand), len(FEATURES)), np.nan, np.float32)
    X[:, col["is_image_query"]] = 1.0
    X[:, col["img_img"]] = i_img
    X[:, col["img_text"]] = i_text
    X[:, col["img_text_gap"]] = i_text - i_text.max(initial=-np.inf)
    if best is not None:
        X[:, col["img_img_gap"]] = i_img - i_img[np.searchsorted(cand, best)]
        cos = np.clip(index.xyz[cand] @ np.asarray(index.xyz[best], np.float32), -1.0, 1.0)
        X[:, col["sep_to_best_log"]] = np.log10(np.degrees(np.arccos(cos)) * 60.0 + 0.01)
        X[:, col["same_type_as_best"]] = [
            float(index.corpus.type[i] == index.corpus.type[best]) for i in cand
        ]
    _object_features(index, cand, X)
    return Query("image", cand, X, None, _whole_corpus_clip(index, q) if baselines else None)


def fallback_scores(query: Query) -> np.ndarray:
    """Candidate scores without a learned ranker: BM25 (names + text) plus CLIP, or CLIP alone."""
    col = {f: i for i, f in enumerate(FEATURES)}
    X = np.nan_to_num(query.features, nan=0.0)
    if query.kind == "image":
        return np.fmax(X[:, col["img_img"]], X[:, col["img_text"]])
    return X[:, col["bm25_names"]] + X[:, col["bm25_text"]] + X[:, col["clip_text"]]
