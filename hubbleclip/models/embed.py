"""Batch embedding of PIL images and strings into L2-normalised numpy arrays."""

from __future__ import annotations

from collections.abc import Iterable
from itertools import islice

import numpy as np
import torch

from hubbleclip.models.base import ClipModel


def _batches(items: Iterable, size: int):
    it = iter(items)
    while batch := list(islice(it, size)):
        yield batch


def _to_numpy(chunks: list[torch.Tensor], dim: int) -> np.ndarray:
    if not chunks:
        return np.zeros((0, dim), dtype=np.float32)
    return torch.nn.functional.normalize(torch.cat(chunks).float(), dim=-1).numpy()


@torch.inference_mode()
def embed_images(model: ClipModel, images: Iterable, batch_size: int = 64) -> np.ndarray:
    """float32 [N, D], L2-normalised, for an iterable of PIL images (any mode)."""
    model.eval()
    transform = model.image_transform(train=False)
    chunks = [
        model.encode_image(torch.stack([transform(im) for im in batch]).to(model.device)).cpu()
        for batch in _batches(images, batch_size)
    ]
    return _to_numpy(chunks, model.embed_dim)


@torch.inference_mode()
def embed_texts(model: ClipModel, texts: Iterable[str], batch_size: int = 256) -> np.ndarray:
    """float32 [N, D], L2-normalised, for an iterable of strings."""
    model.eval()
    chunks = []
    for batch in _batches(texts, batch_size):
        tokens = {k: v.to(model.device) for k, v in model.tokenize(batch).items()}
        chunks.append(model.encode_text(tokens).cpu())
    return _to_numpy(chunks, model.embed_dim)
