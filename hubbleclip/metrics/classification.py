"""Zero-shot classification metrics as per-item columns, ready for the stratified bootstrap.

Each statistic is the mean of one value per image: top-k hits, and re-weighted hits whose means
are per-class recall and balanced accuracy (exact when class sizes are fixed, as they are under
resampling within classes).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from hubbleclip.metrics.ranking import first_relevant_ranks


def true_class_ranks(scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """1-based rank of the true class among all classes for each image (ties against it)."""
    labels = np.asarray(labels)
    n, k = scores.shape
    if labels.shape != (n,) or labels.min(initial=0) < 0 or labels.max(initial=0) >= k:
        raise ValueError(f"labels must be {n} class indices in [0, {k})")
    onehot = sp.csr_matrix((np.ones(n, dtype=bool), (np.arange(n), labels)), shape=(n, k))
    return first_relevant_ranks(scores, onehot)


def classification_columns(
    ranks: np.ndarray, labels: np.ndarray, class_names: Sequence[str], ks: Sequence[int] = (1, 5)
) -> dict[str, np.ndarray]:
    """Per-image columns: ``top{k}``, ``balanced_accuracy`` and ``recall/<class>`` for present classes."""
    labels = np.asarray(labels)
    n = len(labels)
    counts = np.bincount(labels, minlength=len(class_names))
    present = np.flatnonzero(counts)
    top1 = (np.asarray(ranks) <= 1).astype(np.float64)
    columns = {f"top{k}": (np.asarray(ranks) <= k).astype(np.float64) for k in ks}
    columns["balanced_accuracy"] = top1 * n / (len(present) * counts[labels])
    for c in present:
        columns[f"recall/{class_names[c]}"] = top1 * (labels == c) * n / counts[c]
    return columns


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, n_classes: int) -> np.ndarray:
    """[true, predicted] counts over all ``n_classes`` classes (absent ones give zero rows)."""
    from sklearn.metrics import confusion_matrix as sk_confusion

    return sk_confusion(labels, predictions, labels=np.arange(n_classes))
