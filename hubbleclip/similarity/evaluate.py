"""Similarity evaluation with real labels (the FIRST radio classes by default).

For each encoder: label precision@k (share of the k nearest other images with the query's label),
mAP@k (average precision over the top k, normalised by min(k, number of same-label images)), and
GalaxIDNet's mini-search loose accuracy (two augmented views of each image; in groups of
``loose_batch`` images, is the other view the best match by the GalaxIDNet score?).  ``random``
is a baseline of random vectors.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import torch

from hubbleclip.errors import UserError
from hubbleclip.io import atomic_write_json, atomic_write_text
from hubbleclip.metrics.render import markdown_table
from hubbleclip.metrics.similarity import label_metrics, loose_accuracy
from hubbleclip.models.feature_cache import feature_cache
from hubbleclip.runs import setup_run_dir
from hubbleclip.similarity.config import SimilarityEvalConfig
from hubbleclip.similarity.encoders import load_image_encoder
from hubbleclip.similarity.index import image_rows
from hubbleclip.similarity.neighbours import nearest_others

log = logging.getLogger(__name__)


def evaluate_similarity(cfg: SimilarityEvalConfig) -> list[dict]:
    out = setup_run_dir(cfg.out, cfg)
    data, items = image_rows(cfg.dataset, cfg.splits, cfg.sources or None)
    if len(items) < 3:
        raise UserError(
            f"{cfg.dataset}: only {len(items)} images in splits {cfg.splits} / sources {cfg.sources}"
        )
    images = [data[it["split"]][it["row"]]["image"] for it in items]  # encoded: the cache keys on them
    labels = np.array([it["type"] for it in items])
    cache = feature_cache(cfg.cache_dir)
    k = min(max(cfg.precision_k, cfg.map_k), len(images) - 1)
    log.info("evaluating %d images, %d labels", len(images), len(set(labels)))
    rng = np.random.default_rng(cfg.seed)
    results = []
    for spec in cfg.encoders:
        start = time.perf_counter()
        if spec == "random":
            emb, a, b = (rng.standard_normal((len(images), 128)).astype(np.float32) for _ in range(3))
        else:
            encoder = load_image_encoder(spec)
            emb = encoder.embed(images, cache)
            torch.manual_seed(cfg.seed)
            a, b = (encoder.embed_views(images, cfg.view_augment) for _ in range(2))
        emb /= np.linalg.norm(emb, axis=1, keepdims=True)
        row = {
            "encoder": spec,
            "dim": int(emb.shape[1]),
            "images": len(images),
            **label_metrics(nearest_others(emb, k), labels, cfg.precision_k, cfg.map_k),
            "loose_accuracy": loose_accuracy(a, b, cfg.loose_batch),
            "seconds": round(time.perf_counter() - start, 1),
        }
        log.info("%s", row)
        results.append(row)
    atomic_write_json(Path(out) / "results.json", results)
    atomic_write_text(Path(out) / "results.md", results_table(results))
    return results


def results_table(results: list[dict]) -> str:
    keys = [k for k in results[0] if k != "encoder"]
    rows = [
        [r["encoder"], *(f"{r[k]:.3f}" if isinstance(r[k], float) else str(r[k]) for k in keys)]
        for r in results
    ]
    return markdown_table(["encoder", *keys], rows) + "\n"
