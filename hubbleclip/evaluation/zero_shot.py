"""Zero-shot class ranking: prompt-ensembled class embeddings, top-k for any image, labelled sets.

A class embedding is the mean of the L2-normalised embeddings of its prompts (one per template),
normalised again, as in CLIP's prompt ensembling.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hubbleclip.errors import UserError
from hubbleclip.metrics import (
    BootstrapConfig,
    classification_columns,
    compare_systems,
    confusion_matrix,
    true_class_ranks,
)
from hubbleclip.models.embed import NO_CACHE, embed_texts
from hubbleclip.models.feature_cache import FeatureCache


def class_embeddings(
    model,
    classes: Sequence[str],
    templates: Sequence[str],
    batch_size: int = 256,
    cache: FeatureCache = NO_CACHE,
) -> np.ndarray:
    """[classes, D] prompt-ensembled, L2-normalised class embeddings."""
    prompts = [template.format(name) for name in classes for template in templates]
    emb = (
        embed_texts(model, prompts, batch_size=batch_size, cache=cache)
        .reshape(len(classes), len(templates), -1)
        .mean(axis=1)
    )
    return (emb / np.linalg.norm(emb, axis=1, keepdims=True)).astype(np.float32)


def top_classes(
    similarities: np.ndarray, classes: Sequence[str], logit_scale: float, k: int = 5
) -> list[dict]:
    """The ``k`` best classes for one image: cosine similarity and softmax probability over all classes."""
    logits = logit_scale * np.asarray(similarities, dtype=np.float64)
    probs = np.exp(logits - logits.max())
    probs /= probs.sum()
    order = np.argsort(-similarities, kind="stable")[:k]
    return [
        {
            "rank": r + 1,
            "class": classes[c],
            "similarity": float(similarities[c]),
            "probability": float(probs[c]),
        }
        for r, c in enumerate(order)
    ]


@dataclass
class LabelledSet:
    """Images of one source whose ``type`` is in a class list."""

    name: str
    classes: list[str]
    rows: np.ndarray  # indices into the eval set's images
    labels: np.ndarray  # class index per selected image
    n_unlabelled: int  # images of that source whose type is not in the list


def parse_set_entry(entry: str) -> tuple[str, str]:
    source, sep, classes = entry.partition("=")
    if not sep or not source or not classes:
        raise UserError(f"zero-shot set {entry!r}: expected SOURCE=CLASS_LIST, e.g. first=first")
    return source.strip(), classes.strip()


def labelled_set(name: str, classes: list[str], sources: np.ndarray, types: np.ndarray) -> LabelledSet:
    index = {c: i for i, c in enumerate(classes)}
    of_source = np.flatnonzero(sources == name)
    rows = np.array([i for i in of_source if types[i] in index], dtype=np.int64)
    labels = np.array([index[types[i]] for i in rows], dtype=np.int64)
    return LabelledSet(name, classes, rows, labels, len(of_source) - len(rows))


def summarize(
    scores: dict[str, np.ndarray],
    labelled: LabelledSet,
    ks: Sequence[int],
    boot: BootstrapConfig,
    reference: str | None = None,
) -> tuple[dict, dict]:
    """Per-model summaries of one labelled set (``scores[name]`` is [images, classes]) and deltas.

    Resampling is stratified by true class, so class-balanced numbers stay exact means.
    """
    n_classes = len(labelled.classes)
    cols = {
        name: classification_columns(
            true_class_ranks(s, labelled.labels), labelled.labels, labelled.classes, ks
        )
        for name, s in scores.items()
    }
    comparison = compare_systems(cols, bootstrap=boot, reference=reference, strata=labelled.labels)
    n_present = len(np.unique(labelled.labels))
    chance = {f"top{k}": min(k, n_classes) / n_classes for k in ks}
    chance["balanced_accuracy"] = 1 / n_classes
    per_model, deltas = {}, {}
    for name, s in scores.items():
        per_model[name] = {
            "n_images": len(labelled.labels),
            "n_unlabelled": labelled.n_unlabelled,
            "classes": labelled.classes,
            "n_classes_present": n_present,
            "chance": chance,
            "metrics": {k: e.to_dict() for k, e in comparison.estimates[name].items()},
            "confusion": {
                "labels": labelled.classes,
                "matrix": confusion_matrix(labelled.labels, s.argmax(axis=1), n_classes).tolist(),
            },
        }
        if reference and name != reference:
            deltas[name] = {k: e.to_dict() for k, e in comparison.differences[name].items()}
    return per_model, deltas
