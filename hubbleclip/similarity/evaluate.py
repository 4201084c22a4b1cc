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
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hubbleclip.errors import UserError
from hubbleclip.transforms import AugmentConfig

log = logging.getLogger(__name__)


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
        metadata={"help": "encoder specs (random, imagenet, lit-mini, RUN_DIR/export, simclr:RUN_DIR)"},
    )
    precision_k: int = field(default=10, metadata={"help": "k of label precision@k"})
    map_k: int = field(default=100, metadata={"help": "k of mAP@k"})
    loose_batch: int = field(
        default=100, metadata={"help": "mini-search group size (1 positive + batch-1 negatives)"}
    )
    view_augment: AugmentConfig = field(default_factory=_view_augment)
    seed: int = field(default=0, metadata={"help": "seed for the random baseline and the views"})
    out: str = field(
        default="runs/similarity-eval", metadata={"help": "output directory (results.json, results.md)"}
    )


def label_metrics(
    embeddings: np.ndarray, labels: np.ndarray, precision_k: int = 10, map_k: int = 100
) -> dict:
    """Mean label precision@k and mAP@k over every image as a query against all the others."""
    from hubbleclip.similarity.neighbours import exact_topk

    n = len(labels)
    k = min(max(precision_k, map_k), n - 1)
    _, idx = exact_topk(embeddings, embeddings, k, exclude=np.arange(n)[:, None])
    rel = labels[idx] == labels[:, None]
    n_rel = np.array([(labels == lab).sum() - 1 for lab in labels])
    mk = min(map_k, k)
    hits = np.cumsum(rel[:, :mk], axis=1)
    prec_at = hits / np.arange(1, mk + 1)
    ap = (prec_at * rel[:, :mk]).sum(1) / np.maximum(np.minimum(n_rel, mk), 1)
    return {f"precision@{precision_k}": float(rel[:, :precision_k].mean()), f"mAP@{map_k}": float(ap.mean())}


def evaluate_similarity(cfg: SimilarityEvalConfig) -> list[dict]:
    import torch

    from hubbleclip.io import atomic_write_json, atomic_write_text, setup_run_dir
    from hubbleclip.similarity.encoders import load_encoder
    from hubbleclip.similarity.index import image_rows, load_image
    from hubbleclip.similarity.losses import loose_accuracy

    out = setup_run_dir(cfg.out, cfg)
    data, items = image_rows(cfg.dataset, cfg.splits, cfg.sources or None)
    if len(items) < 3:
        raise UserError(
            f"{cfg.dataset}: only {len(items)} images in splits {cfg.splits} / sources {cfg.sources}"
        )
    images = [load_image(data[it["split"]], it["row"]) for it in items]
    labels = np.array([it["type"] for it in items])
    log.info("evaluating %d images, %d labels", len(images), len(set(labels)))
    rng = np.random.default_rng(cfg.seed)
    results = []
    for spec in cfg.encoders:
        start = time.perf_counter()
        if spec == "random":
            emb, a, b = (rng.standard_normal((len(images), 128)).astype(np.float32) for _ in range(3))
        else:
            encoder = load_encoder(spec)
            emb = encoder.embed(images)
            views = encoder.view_transform(cfg.view_augment)
            torch.manual_seed(cfg.seed)
            a, b = (encoder.embed(images, transform=views) for _ in range(2))
        emb /= np.linalg.norm(emb, axis=1, keepdims=True)
        row = {
            "encoder": spec,
            "dim": int(emb.shape[1]),
            "images": len(images),
            **label_metrics(emb, labels, cfg.precision_k, cfg.map_k),
            "loose_accuracy": loose_accuracy(torch.from_numpy(a), torch.from_numpy(b), cfg.loose_batch),
            "seconds": round(time.perf_counter() - start, 1),
        }
        log.info("%s", row)
        results.append(row)
    atomic_write_json(Path(out) / "results.json", results)
    atomic_write_text(Path(out) / "results.md", results_table(results))
    return results


def results_table(results: list[dict]) -> str:
    keys = [k for k in results[0] if k not in ("encoder",)]
    lines = ["| encoder | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
    for r in results:
        cells = [f"{r[k]:.3f}" if isinstance(r[k], float) else str(r[k]) for k in keys]
        lines.append(f"| {r['encoder']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
