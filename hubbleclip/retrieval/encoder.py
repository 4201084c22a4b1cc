"""The CLIP side of retrieval, behind a small interface so that any encoder can be injected.

``load_encoder(spec)`` wraps a model from :mod:`hubbleclip.models` (``lit-mini``, ``tiny-lit``,
``open_clip:...``, ``hf:...`` or an exported run directory).  Anything with ``spec``,
``embed_texts`` and ``embed_images`` returning L2-normalised float32 arrays works the same.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

import numpy as np
from PIL import Image


class Encoder(Protocol):
    spec: str

    def embed_texts(self, texts: list[str]) -> np.ndarray: ...

    def embed_images(self, images: Iterable[Image.Image]) -> np.ndarray: ...


class ModelEncoder:
    """A :class:`hubbleclip.models.ClipModel` in eval mode, embedding without gradients."""

    def __init__(self, spec: str, device: str = "cpu", batch_size: int = 64):
        from hubbleclip.models import load_model

        self.spec, self.batch_size = spec, batch_size
        self.model = load_model(spec, device=device).eval()

    @property
    def embed_dim(self) -> int:
        return int(self.model.embed_dim)

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        from hubbleclip.models import embed_texts

        return np.asarray(
            embed_texts(self.model, list(texts), batch_size=max(self.batch_size, 256)), np.float32
        )

    def embed_images(self, images: Iterable[Image.Image]) -> np.ndarray:
        from hubbleclip.models import embed_images

        return np.asarray(embed_images(self.model, images, batch_size=self.batch_size), np.float32)


def load_encoder(spec: str, device: str = "cpu", batch_size: int = 64) -> ModelEncoder:
    return ModelEncoder(spec, device=device, batch_size=batch_size)
