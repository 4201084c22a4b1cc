"""Embeddings of an evaluation set, cached on disk per (model weights, dataset fingerprint, split).

The model key hashes the weights themselves, so a retrained run directory never reuses stale
vectors; the dataset key is ``datasets``' own fingerprint of the saved split.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from hubbleclip.evaluation.evalset import EvalSet
from hubbleclip.io import atomic_write_bytes

log = logging.getLogger(__name__)


def default_cache_dir() -> Path:
    return Path(os.environ.get("HUBBLECLIP_CACHE", Path.home() / ".cache" / "hubbleclip")) / "embeddings"


def model_fingerprint(model) -> str:
    """SHA-256 of the model's class, spec and every tensor in its state dict."""
    import torch

    digest = hashlib.sha256(f"{type(model).__qualname__}|{getattr(model, 'spec', '')}".encode())
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        # a byte view works for every dtype (bfloat16 has no numpy equivalent)
        digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:24]


class EmbeddingCache:
    """``ROOT/<model key>/<dataset fingerprint>-<split>-<kind>.npy``; ``root=None`` disables it."""

    def __init__(self, root: str | Path | None):
        self.root = Path(root) if root is not None else None

    def get(self, key: tuple[str, ...], n_rows: int, compute: Callable[[], np.ndarray]) -> np.ndarray:
        if self.root is None or not all(key):
            return compute()
        path = self.root / key[0] / ("-".join(key[1:]) + ".npy")
        if path.is_file():
            try:
                cached = np.load(path)
            except (OSError, ValueError) as exc:
                log.warning("ignoring unreadable embedding cache %s (%s)", path, exc)
            else:
                if cached.ndim == 2 and cached.shape[0] == n_rows:
                    log.info("embeddings from cache %s", path)
                    return cached
                log.warning(
                    "ignoring embedding cache %s: shape %s, expected %d rows", path, cached.shape, n_rows
                )
        array = np.ascontiguousarray(compute(), dtype=np.float32)
        buffer = io.BytesIO()
        np.save(buffer, array)
        atomic_write_bytes(path, buffer.getvalue())
        return array


def embed_eval_set(
    model, eval_set: EvalSet, cache: EmbeddingCache, model_key: str, batch_size: int = 64
) -> tuple[np.ndarray, np.ndarray]:
    """L2-normalised image and caption embeddings ([images, D], [texts, D]) for an eval set.

    ``model_key`` is the model's :func:`model_fingerprint`.
    """
    from hubbleclip.models import embed_images, embed_texts

    key = model_key
    text_key = hashlib.sha256("\n".join(eval_set.texts).encode()).hexdigest()[:16]
    images = cache.get(
        (key, eval_set.fingerprint, eval_set.split, "images"),
        eval_set.n_images,
        lambda: embed_images(model, eval_set.iter_images(), batch_size=batch_size),
    )
    texts = cache.get(
        (key, eval_set.fingerprint, eval_set.split, f"texts_{text_key}"),
        len(eval_set.texts),
        lambda: embed_texts(model, eval_set.texts, batch_size=max(batch_size, 256)),
    )
    return images, texts
