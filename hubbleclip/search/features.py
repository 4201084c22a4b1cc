"""Candidates from the whole corpus and the features of each (query, object) pair.

Candidates are the union of BM25 top-N (names, texts) and CLIP top-N (query against object
texts and object images) over every object the caller may see (``visible``: a boolean mask from
:mod:`hubbleclip.access`; BM25 statistics are those of the visible objects too); an image query
adds the objects in the same field as its best image match.  One feature vector serves text and
image queries (LightGBM treats NaN as missing), so one ranker handles both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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
    """One query scored against the whole corpus, with its candidate set and features."""

    kind: str  # "text" or "image"
    candidates: np.ndarray  # corpus indices
    features: np.ndarray  # [len(candidates), len(FEATURES)] float32
    bm25: np.ndarray | None  # whole-corpus BM25 (names + text), None for image queries
    clip: np.ndarray  # whole-corpus CLIP score (best of the object's text and image)
    note: str = ""


def top_n(scores: np.ndarray, n: int, valid: np.ndarray | None = None) -> np.ndarray:
    """Indices of the ``n`` highest scores (only where ``valid``), unordered."""
    idx = np.flatnonzero(valid) if valid is not None else np.arange(len(scores))
    if len(idx) <= n:
        return idx
    part = np.argpartition(-scores[idx], n - 1)[:n]
    return idx[part]


def _same_field(index, best: int, visible: np.ndarray) -> np.ndarray:
    """Visible objects within FIELD_RADIUS_DEG of the best image match, nearest first (a patch of sky)."""
    cos = index.xyz @ np.asarray(index.xyz[best], np.float32)
    near = np.flatnonzero((cos >= np.cos(np.radians(FIELD_RADIUS_DEG))) & visible)
    return near[np.argsort(-cos[near])[:FIELD_MAX]]


def _object_features(index, cand: np.ndarray, X: np.ndarray) -> None:
    col = {f: i for i, f in enumerate(FEATURES)}
    X[:, col["has_image"]] = index.has_image[cand]
    X[:, col["mag"]] = index.corpus.mag[cand]
    size = np.asarray(index.corpus.size_arcmin[cand], np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        X[:, col["log_size"]] = np.where(size > 0, np.log10(size), np.nan)
    X[:, col["n_names"]] = [len(index.corpus.names[i]) for i in cand]


def _visible(index, visible: np.ndarray | None) -> np.ndarray:
    return np.ones(len(index), bool) if visible is None else visible


def text_query(
    index,
    encoder,
    text: str,
    n: int = 100,
    visible: np.ndarray | None = None,
    allowed: np.ndarray | None = None,
    include=(),
) -> Query:
    """Candidates and features of a text query; ``visible`` (the caller's access mask) and
    ``allowed`` (a resolver's filter) limit the candidates, ``include`` adds corpus indices to them
    (a resolved name) when the caller may see them."""
    visible = _visible(index, visible)
    within = visible if allowed is None else visible & allowed
    include = np.asarray([i for i in include if visible[i]], np.int64)
    tokens = tokenize(text)
    names_field, text_field = index.bm25(visible)
    s_names, s_text = names_field.scores(tokens), text_field.scores(tokens)
    q = np.asarray(encoder.embed_texts([text])[0], np.float32)
    c_text = index.emb_text @ q
    c_image = np.where(index.has_image, index.emb_image @ q, np.nan)
    clip = np.fmax(c_text, c_image)
    cand = np.unique(
        np.concatenate(
            [
                top_n(s_names, n, (s_names > 0) & within),
                top_n(s_text, n, (s_text > 0) & within),
                top_n(c_text, n, within),
                top_n(np.nan_to_num(c_image, nan=-2.0), n, index.has_image & within),
                include,
            ]
        )
    )
    col = {f: i for i, f in enumerate(FEATURES)}
    X = np.full((len(cand), len(FEATURES)), np.nan, np.float32)
    X[:, col["is_image_query"]] = 0.0
    for name, full in (("bm25_names", s_names), ("bm25_text", s_text)):
        X[:, col[name]] = full[cand]
        X[:, col[f"{name}_rel"]] = full[cand] / max(float(full[cand].max(initial=0.0)), 1e-6)
    X[:, col["clip_text"]] = c_text[cand]
    X[:, col["clip_image"]] = c_image[cand]
    X[:, col["clip_text_gap"]] = c_text[cand] - c_text[cand].max()
    if np.isfinite(c_image[cand]).any():
        X[:, col["clip_image_gap"]] = c_image[cand] - np.nanmax(c_image[cand])
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
    note = (
        ""
        if (s_names[visible] > 0).any() or (s_text[visible] > 0).any()
        else "no word of the query is in the catalog; ranked by CLIP similarity only"
    )
    return Query("text", cand, X, s_names + s_text, clip, note)


def image_query(index, encoder, image, n: int = 100, visible: np.ndarray | None = None) -> Query:
    visible = _visible(index, visible)
    rgb = image if image.mode == "RGB" else image.convert("RGB")  # no copy of an upload's pixels
    q = np.asarray(encoder.embed_images([rgb])[0], np.float32)
    i_img = np.where(index.has_image, index.emb_image @ q, np.nan)
    i_text = index.emb_text @ q
    clip = np.fmax(i_img, i_text)
    parts = [top_n(i_text, n, visible)]
    best = None
    with_image = index.has_image & visible
    if with_image.any():
        masked = np.where(with_image, np.nan_to_num(i_img, nan=-2.0), -np.inf)
        parts.append(top_n(masked, n, with_image))
        best = int(np.argmax(masked))
        parts.append(_same_field(index, best, visible))
    cand = np.unique(np.concatenate(parts))
    col = {f: i for i, f in enumerate(FEATURES)}
    X = np.full((len(cand), len(FEATURES)), np.nan, np.float32)
    X[:, col["is_image_query"]] = 1.0
    X[:, col["img_img"]] = i_img[cand]
    X[:, col["img_text"]] = i_text[cand]
    X[:, col["img_text_gap"]] = i_text[cand] - i_text[cand].max()
    if best is not None:
        X[:, col["img_img_gap"]] = i_img[cand] - i_img[best]
        cos = np.clip(index.xyz[cand] @ np.asarray(index.xyz[best], np.float32), -1.0, 1.0)
        X[:, col["sep_to_best_log"]] = np.log10(np.degrees(np.arccos(cos)) * 60.0 + 0.01)
        X[:, col["same_type_as_best"]] = [
            float(index.corpus.type[i] == index.corpus.type[best]) for i in cand
        ]
    _object_features(index, cand, X)
    return Query("image", cand, X, None, clip)


def fallback_scores(query: Query) -> np.ndarray:
    """Candidate scores without a learned ranker: BM25 (names + text) plus CLIP, or CLIP alone."""
    col = {f: i for i, f in enumerate(FEATURES)}
    X = np.nan_to_num(query.features, nan=0.0)
    if query.kind == "image":
        return np.fmax(X[:, col["img_img"]], X[:, col["img_text"]])
    return X[:, col["bm25_names"]] + X[:, col["bm25_text"]] + X[:, col["clip_text"]]
