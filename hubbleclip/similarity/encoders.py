"""Image encoders for the similarity index, by spec string.

- ``simclr:RUN_DIR`` (or a directory holding ``simclr.json``, e.g. ``RUN_DIR/export``): an encoder
  trained by ``training/simclr.py`` (backbone features);
- ``features:MODEL_SPEC``: the image tower of a CLIP model before its head, e.g.
  ``features:lit-mini`` = ImageNet EfficientNet-Lite0 pooled features (alias ``imagenet``);
- anything else: a CLIP image tower and head from :func:`hubbleclip.models.load_model`
  (``lit-mini``, ``open_clip:...``, ``hf:...``, an exported model or a training run directory).

``ImageEncoder.embed(images, cache)`` returns L2-normalised float32 vectors [N, D]; the tower
features come through the feature cache, so a CLIP model's index reuses what training and
evaluation computed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from hubbleclip.augment import AugmentConfig
from hubbleclip.errors import UserError
from hubbleclip.models import load_model
from hubbleclip.models.feature_cache import (
    FeatureCache,
    ImageInput,
    cached_image_features,
    decode_image,
    image_space,
)
from hubbleclip.models.loader import resolve_export
from hubbleclip.similarity.ssl_models import SIMCLR_META, SimCLRModel

ALIASES = {"imagenet": "features:lit-mini"}
NO_CACHE = FeatureCache(None)


@dataclass
class ImageEncoder:
    """``head(features(transform(image)))``, L2-normalised; ``weights`` pin the features' cache key."""

    spec: str
    features: Callable[[torch.Tensor], torch.Tensor]
    head: Callable[[torch.Tensor], torch.Tensor] | None
    transform: Callable
    weights: list[nn.Module | nn.Parameter]
    model: nn.Module

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def _normalised(self, feats: torch.Tensor) -> np.ndarray:
        with torch.inference_mode():
            out = self.head(feats.to(self.device)) if self.head is not None else feats
        return nn.functional.normalize(out.float().cpu(), dim=-1).numpy()

    def embed(
        self, images: Sequence[ImageInput], cache: FeatureCache = NO_CACHE, batch_size: int = 64
    ) -> np.ndarray:
        if not len(images):
            raise UserError("no images to embed")
        self.model.eval()
        feats = cached_image_features(
            images,
            self.features,
            self.transform,
            lambda: image_space(self.weights, self.transform),
            cache,
            self.device,
            batch_size,
        )
        return self._normalised(feats)

    @torch.inference_mode()
    def embed_views(
        self, images: Sequence[ImageInput], augment: AugmentConfig, batch_size: int = 64
    ) -> np.ndarray:
        """Random ``augment`` views of the images (for view-matching metrics; never cached: each call
        draws new views from torch's generator)."""
        self.model.eval()
        transform = self.model.image_transform(train=True, augment=augment)
        out = []
        for start in range(0, len(images), batch_size):
            pixels = torch.stack([transform(decode_image(im)) for im in images[start : start + batch_size]])
            out.append(self.features(pixels.to(self.device)).float().cpu())
        return self._normalised(torch.cat(out))


def load_image_encoder(spec: str, device: str = "cpu") -> ImageEncoder:
    spec = ALIASES.get(spec, spec)
    simclr = resolve_export(spec.removeprefix("simclr:"), marker=SIMCLR_META)
    if spec.startswith("simclr:") or (Path(simclr) / SIMCLR_META).is_file():
        model = SimCLRModel.load(simclr, device=device)
        return ImageEncoder(
            spec, model.encode_image, None, model.image_transform(train=False), [model.backbone], model
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
    )
