"""Example outputs the qualitative paper figures show, saved as JSON (ids and scores, no pixels):

* image → text: the top-5 descriptions (PAPERCLIP-style class / science-case list) for a few
  test images, per model;
* text → image: the top test images for a few text queries, per model;
* similarity: neighbours, a refinement and quick-select clusters for a few query objects.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from hubbleclip.data.load import encoded_images, load_split
from hubbleclip.demo.config import DemoConfig
from hubbleclip.evaluation.classes import load_classes, load_templates
from hubbleclip.evaluation.zero_shot import class_embeddings, top_classes
from hubbleclip.io import atomic_write_json
from hubbleclip.models.embed import embed_images, embed_texts
from hubbleclip.models.feature_cache import feature_cache
from hubbleclip.models.loader import load_model
from hubbleclip.search.names import NameResolver
from hubbleclip.similarity.config import SimilarityIndexConfig
from hubbleclip.similarity.index import build_similarity_index
from hubbleclip.similarity.results import SimilarImage
from hubbleclip.similarity.search import find_similar

TEXT_QUERIES = [
    "spiral galaxy with dust lanes",
    "planetary nebula",
    "globular cluster",
    "FRII radio galaxy with two lobes",
    "emission nebula and star formation",
    "elliptical galaxy",
]


def _example_rows(ds, n: int) -> list[int]:
    """``n`` imaged rows spread over sources (Stellarium first), in a stable order."""
    sources = ds["source"]
    by_source: dict[str, list[int]] = {}
    for i, src in enumerate(sources):
        if src != "openngc":
            by_source.setdefault(src, []).append(i)
    order = [s for s in ("stellarium", "first", "hdf") if s in by_source] + sorted(
        set(by_source) - {"stellarium", "first", "hdf"}
    )
    picked: list[int] = []
    while len(picked) < n and any(by_source.get(s) for s in order):
        for s in order:
            if by_source.get(s) and len(picked) < n:
                picked.append(by_source[s].pop(0))
    return picked


def write_examples(cfg: DemoConfig, models: dict[str, str], path: Path) -> Path:
    ds = load_split(cfg.skyset, cfg.eval_split)
    cache = feature_cache(cfg.cache_dir)
    imaged = [i for i, src in enumerate(ds["source"]) if src != "openngc"]
    rows = _example_rows(ds, cfg.examples)
    classes, templates = load_classes("descriptions"), load_templates("default")
    out: dict[str, Any] = {
        "split": cfg.eval_split,
        "dataset": cfg.skyset,
        "class_list": "descriptions",
        "images": [
            {
                "row": r,
                "id": ds[r]["id"],
                "names": ds[r]["names"][:2],
                "type": ds[r]["type"],
                "credit": ds[r]["credit"],
            }
            for r in rows
        ],
        "queries": TEXT_QUERIES,
        "image_to_text": {},
        "text_to_image": {},
    }
    encoded = encoded_images(ds)
    all_images = [encoded[i] for i in imaged]
    for name, spec in models.items():
        model = load_model(spec)
        scale = float(model.logit_scale.detach().exp())  # stored as a log temperature
        img = embed_images(model, all_images, batch_size=32, cache=cache)
        cls = class_embeddings(model, classes, templates, cache=cache)
        pos = {r: k for k, r in enumerate(imaged)}
        out["image_to_text"][name] = [top_classes(img[pos[r]] @ cls.T, classes, scale, k=5) for r in rows]
        sims = embed_texts(model, TEXT_QUERIES, cache=cache) @ img.T
        out["text_to_image"][name] = [
            [
                {
                    "row": imaged[j],
                    "id": ds[imaged[j]]["id"],
                    "type": ds[imaged[j]]["type"],
                    "similarity": float(s[j]),
                }
                for j in np.argsort(-s, kind="stable")[:4]
            ]
            for s in sims
        ]
    return atomic_write_json(path, out)


def write_similarity(cfg: DemoConfig, encoder: str, out: Path) -> dict[str, Any]:
    index_cfg = SimilarityIndexConfig(
        dataset=cfg.skyset, encoder=encoder, out=str(out / "index"), cache_dir=cfg.cache_dir
    )
    index = build_similarity_index(index_cfg, overwrite=True).read_names(NameResolver.from_aliases)
    results = []
    for query in cfg.similarity_queries:
        first = find_similar(index, query, k=12, n_clusters=5, seed=cfg.seed)
        picks = [index.items[i]["id"] for i, _ in first.neighbours[:2]]
        refined = find_similar(index, query, select=picks, k=12, n_clusters=0, seed=cfg.seed)
        results.append(
            {
                "query": query,
                "query_item": SimilarImage.from_item(index.items[first.query_row]).to_dict(),
                "neighbours": [im.to_dict() for im in first.images(index)],
                "selected": picks,
                "refined": [im.to_dict() for im in refined.images(index)],
                "clusters": [c.to_dict() for c in first.typed_clusters(index)],
            }
        )
    path = atomic_write_json(
        out / "similar.json",
        {"encoder": encoder, "index": str(out / "index"), "dataset": cfg.skyset, "queries": results},
    )
    return {"index": str(out / "index"), "results": str(path)}
