"""Image-similarity metrics: label precision@k and mAP@k of neighbour lists, and GalaxIDNet's score
and mini-search loose accuracy."""

from __future__ import annotations

import numpy as np
from scipy.spatial.distance import cdist


def label_metrics(
    neighbours: np.ndarray, labels: np.ndarray, precision_k: int = 10, map_k: int = 100
) -> dict:
    """Mean label precision@k and mAP@k over every image as a query.  ``neighbours`` [N, k] are each
    image's nearest *other* images, best first; AP@k is normalised by min(k, same-label images)."""
    labels = np.asarray(labels)
    rel = labels[neighbours] == labels[:, None]
    n_rel = np.array([(labels == lab).sum() - 1 for lab in labels])
    mk = min(map_k, neighbours.shape[1])
    hits = np.cumsum(rel[:, :mk], axis=1)
    prec_at = hits / np.arange(1, mk + 1)
    ap = (prec_at * rel[:, :mk]).sum(1) / np.maximum(np.minimum(n_rel, mk), 1)
    return {f"precision@{precision_k}": float(rel[:, :precision_k].mean()), f"mAP@{map_k}": float(ap.mean())}


def galaxidnet_similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(cos + 1/(1+L2) + 1/(1+L3)) / 3 between every row of ``a`` [N, D] and ``b`` [M, D] -> [N, M]."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    cos = (a / np.linalg.norm(a, axis=1, keepdims=True)) @ (b / np.linalg.norm(b, axis=1, keepdims=True)).T
    l2, l3 = cdist(a, b, "euclidean"), cdist(a, b, "minkowski", p=3)
    return (cos + 1 / (1 + l2) + 1 / (1 + l3)) / 3


def loose_accuracy(views_a: np.ndarray, views_b: np.ndarray, batch: int = 100) -> float:
    """GalaxIDNet's mini-search loose accuracy: in groups of ``batch`` images, the fraction whose
    other view scores highest (by :func:`galaxidnet_similarity`) among 1 positive and batch-1
    negatives.  Embeddings are normalised first."""
    a, b = (np.asarray(v, np.float64) for v in (views_a, views_b))
    a, b = a / np.linalg.norm(a, axis=1, keepdims=True), b / np.linalg.norm(b, axis=1, keepdims=True)
    hits = 0
    for s in range(0, len(a), batch):
        sim = galaxidnet_similarity(a[s : s + batch], b[s : s + batch])
        hits += int((sim.argmax(1) == np.arange(len(sim))).sum())
    return hits / max(len(a), 1)
