"""Image encoders for the similarity index, by spec string.

- ``simclr:RUN_DIR`` (or a directory holding ``simclr.json``, e.g. ``RUN_DIR/export``): an encoder
  trained by ``training/simclr.py`` (backbone features);
- ``features:MODEL_SPEC``: the image tower of a CLIP model before its head, e.g.
  ``features:lit-mini`` = ImageNet EfficientNet-Lite0 pooled features (alias ``imagenet``);
- anything else: a CLIP image tower and head from :func:`hubbleclip.models.load_model`
  (``lit-mini``, ``open_clip:...``, ``hf:...``, an exported model or a training run directory).

``ImageEncoder.embed(images, cache)`` returns L2-normalised float32 vectors [N, D] ((0, D) for no
images) through :func:`hubbleclip.models.embed.embed_image_tower`, the one image path: the tower
features come through the feature cache, so a CLIP model's index reuses what training and
evaluation computed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from hubbleclip.augment import AugmentConfig
from hubbleclip.models import load_model
from hubbleclip.models.embed import NO_CACHE, embed_image_tower
from hubbleclip.models.feature_cache import FeatureCache, ImageInput, image_space
from hubbleclip.models.loader import resolve_export
from hubbleclip.similarity.ssl_models import SIMCLR_META, SimCLRModel

ALIASES = {"imagenet": "features:lit-mini"}


@dataclass
class ImageEncoder:
    """``head(features(transform(image)))``, L2-normalised; ``weights`` pin the features' cache key."""

    spec: str
    features: Callable[[torch.Tensor], torch.Tensor]
    head: Callable[[torch.Tensor], torch.Tensor] | None
    transform: Callable
    weights: list[nn.Module | nn.Parameter]
    model: nn.Module
    dim: int | None = None  # None: the features' width, measured on a blank image when asked

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def _dim(self) -> int:
        if self.dim is None:
            self.dim = int(self.embed([Image.new("RGB", (64, 64))]).shape[1])
        return self.dim

    def embed(
        self, images: Sequence[ImageInput], cache: FeatureCache = NO_CACHE, batch_size: int = 64
    ) -> np.ndarray:
        """float32 [N, dim], L2-normalised ((0, dim) for no images), through the feature cache."""
        return self._embed(images, self.transform, cache, batch_size)

    def embed_views(
        self, images: Sequence[ImageInput], augment: AugmentConfig, batch_size: int = 64
    ) -> np.ndarray:
        """Random ``augment`` views of the images (for view-matching metrics; never cached: each call
        draws new views from torch's generator)."""
        views = self.model.image_transform(train=True, augment=augment)
        return self._embed(images, views, NO_CACHE, batch_size)

    def _embed(self, images, transform, cache: FeatureCache, batch_size: int) -> np.ndarray:
        self.model.eval()
        return embed_image_tower(
            images,
            self.features,
            transform,
            head=self.head,
            space=lambda: image_space(self.weights, transform),
            dim=self._dim,
            device=self.device,
            cache=cache,
            batch_size=batch_size,
        )


def load_image_encoder(spec: str, device: str = "cpu") -> ImageEncoder:
    spec = ALIASES.get(spec, spec)
    simclr = resolve_export(spec.removeprefix("simclr:"), marker=SIMCLR_META)
    if spec.startswith("simclr:") or (Path(simclr) / SIMCLR_META).is_file():
        model = SimCLRModel.load(simclr, device=device)
        return ImageEncoder(
            spec,
            model.encode_image,
            None,
            model.image_transform(train=False),
            [model.backbone],
            model,
            model.embed_dim,
        )
    if spec.startswith("features:"):
        model = load_model(spec.removeprefix("features:"), device=device)
        return ImageEncoder(
            spec,
            model.image_features,
            None,
            model.image_transform(train=False),
            model.tower_weights("image"),
            model,
        )
    model = load_model(spec, device=device)
    return ImageEncoder(
        spec,
        model.image_features,
        model.image_head,
        model.image_transform(train=False),
        model.tower_weights("image"),
        model,
        model.embed_dim,
    )
