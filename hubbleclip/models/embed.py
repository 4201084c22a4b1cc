"""Batch embedding of images and strings into L2-normalised numpy arrays: tower features (through
the feature cache, :mod:`hubbleclip.models.feature_cache`) and the model's heads.

:class:`ClipEncoder` binds a loaded model to a cache and batch sizes; the object search index and
its queries embed through it (anything with ``spec``, ``embed_texts`` and ``embed_images``
returning L2-normalised float32 arrays can stand in for it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from hubbleclip.models.base import ClipModel
from hubbleclip.models.feature_cache import FeatureCache, ImageInput, image_features, text_features
from hubbleclip.models.loader import load_model

NO_CACHE = FeatureCache(None)


def _heads(model: ClipModel, head, features: Callable[[], torch.Tensor], n: int) -> np.ndarray:
    """``head(features())`` L2-normalised, [n, D] float32 (no tower call for n = 0)."""
    if not n:
        return np.zeros((0, model.embed_dim), dtype=np.float32)
    with torch.inference_mode():
        out = head(features().to(model.device)).float().cpu()
    return torch.nn.functional.normalize(out, dim=-1).numpy()


def embed_images(
    model: ClipModel, images: Sequence[ImageInput], batch_size: int = 64, cache: FeatureCache = NO_CACHE
) -> np.ndarray:
    """float32 [N, D], L2-normalised, for encoded dataset images or PIL images (any mode)."""
    images = list(images)
    return _heads(
        model,
        model.image_head,
        lambda: image_features(model, images, cache, batch_size=batch_size),
        len(images),
    )


def embed_texts(
    model: ClipModel, texts: Sequence[str], batch_size: int = 256, cache: FeatureCache = NO_CACHE
) -> np.ndarray:
    """float32 [N, D], L2-normalised, for strings."""
    texts = list(texts)
    return _heads(model, model.text_head, lambda: text_features(model, texts, cache, batch_size), len(texts))


class ClipEncoder:
    """A :class:`ClipModel` in eval mode with its feature cache: ``embed_texts``, ``embed_images``."""

    def __init__(self, spec: str, device: str = "cpu", batch_size: int = 64, cache: FeatureCache = NO_CACHE):
        self.spec, self.batch_size, self.cache = spec, batch_size, cache
        self.model = load_model(spec, device=device)

    @property
    def embed_dim(self) -> int:
        return int(self.model.embed_dim)

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        return embed_texts(self.model, texts, batch_size=max(self.batch_size, 256), cache=self.cache)

    def embed_images(self, images: Sequence[ImageInput]) -> np.ndarray:
        return embed_images(self.model, images, batch_size=self.batch_size, cache=self.cache)
