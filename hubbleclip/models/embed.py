"""Batch embedding of images and strings into L2-normalised numpy arrays: tower features (through
the feature cache, :mod:`hubbleclip.models.feature_cache`) and the model's heads.
:func:`embed_image_tower` is the one image path, also behind the similarity encoders.

:class:`ClipEncoder` binds a loaded model to a cache and batch sizes; the object search index and
its queries embed through it (anything with ``spec``, ``embed_texts`` and ``embed_images``
returning L2-normalised float32 arrays can stand in for it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from hubbleclip.models.base import ClipModel
from hubbleclip.models.feature_cache import (
    FeatureCache,
    ImageInput,
    cached_image_features,
    image_space,
    text_features,
)
from hubbleclip.models.loader import load_model

NO_CACHE = FeatureCache(None)


def _normalised(head: Callable | None, features: torch.Tensor, device) -> np.ndarray:
    """``head(features)`` (the features themselves without a head), L2-normalised float32 numpy."""
    with torch.inference_mode():
        out = features if head is None else head(features.to(device))
    return torch.nn.functional.normalize(out.float().cpu(), dim=-1).numpy()


def embed_image_tower(
    images: Sequence[ImageInput],
    features: Callable[[torch.Tensor], torch.Tensor],
    transform: Callable,
    *,
    head: Callable[[torch.Tensor], torch.Tensor] | None,
    space: Callable[[], str],
    dim: int | Callable[[], int],
    device: torch.device | str = "cpu",
    cache: FeatureCache = NO_CACHE,
    batch_size: int = 64,
) -> np.ndarray:
    """The one way images become vectors (CLIP towers here, similarity encoders in
    :mod:`hubbleclip.similarity.encoders`): ``head(features(transform(image)))`` in batches of
    ``batch_size``, the features through ``cache`` under the namespace ``space()``, L2-normalised.
    float32 [N, dim]; no images give a (0, dim) array without running the tower (``dim`` may be a
    function, asked only then)."""
    images = list(images)
    if not images:
        return np.zeros((0, dim() if callable(dim) else dim), dtype=np.float32)
    feats = cached_image_features(images, features, transform, space, cache, device, batch_size)
    return _normalised(head, feats, device)


def embed_images(
    model: ClipModel, images: Sequence[ImageInput], batch_size: int = 64, cache: FeatureCache = NO_CACHE
) -> np.ndarray:
    """float32 [N, D], L2-normalised, for encoded dataset images or PIL images (any mode)."""
    model.eval()
    transform = model.image_transform(train=False)
    return embed_image_tower(
        images,
        model.image_features,
        transform,
        head=model.image_head,
        space=lambda: image_space(model.tower_weights("image"), transform),
        dim=model.embed_dim,
        device=model.device,
        cache=cache,
        batch_size=batch_size,
    )


def embed_texts(
    model: ClipModel, texts: Sequence[str], batch_size: int = 256, cache: FeatureCache = NO_CACHE
) -> np.ndarray:
    """float32 [N, D], L2-normalised, for strings."""
    texts = list(texts)
    if not texts:
        return np.zeros((0, model.embed_dim), dtype=np.float32)
    return _normalised(model.text_head, text_features(model, texts, cache, batch_size), model.device)


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
