"""Image encoders for the similarity index, by spec string.

- ``simclr:RUN_DIR`` (or a directory holding ``simclr.json``, e.g. ``RUN_DIR/export``): an encoder
  trained by ``training/simclr.py`` (backbone features);
- ``features:MODEL_SPEC``: the image trunk of a CLIP model before its projection, e.g.
  ``features:lit-mini`` = ImageNet EfficientNet-Lite0 pooled features (alias ``imagenet``);
- anything else: a CLIP image tower from :func:`hubbleclip.models.load_model` (``lit-mini``,
  ``open_clip:...``, ``hf:...``, an exported model directory).

``Encoder.embed(images)`` returns L2-normalised float32 vectors [N, D].
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from hubbleclip.errors import UserError

ALIASES = {"imagenet": "features:lit-mini"}


class Encoder:
    def __init__(self, spec: str, forward: Callable, transform: Callable, model):
        self.spec, self.forward, self.transform, self.model = spec, forward, transform, model

    def view_transform(self, augment):
        """The model's input transform with random ``augment`` views (for view-matching metrics)."""
        return self.model.image_transform(train=True, augment=augment)

    def embed(self, images: Iterable, batch_size: int = 64, transform: Callable | None = None) -> np.ndarray:
        import torch

        transform = transform or self.transform
        self.model.eval()
        device = next(self.model.parameters()).device
        images, out = list(images), []
        with torch.inference_mode():
            for start in range(0, len(images), batch_size):
                pixels = torch.stack([transform(im) for im in images[start : start + batch_size]]).to(device)
                out.append(torch.nn.functional.normalize(self.forward(pixels).float(), dim=-1).cpu().numpy())
        if not out:
            raise UserError("no images to embed")
        return np.concatenate(out)


def _simclr_dir(spec: str) -> Path | None:
    if spec.startswith("simclr:"):
        return Path(spec[len("simclr:") :])
    path = Path(spec)
    for cand in (path, path / "export"):
        if (cand / "simclr.json").is_file():
            return cand
    return None


def load_encoder(spec: str, device: str = "cpu") -> Encoder:
    spec = ALIASES.get(spec, spec)
    simclr = _simclr_dir(spec)
    if simclr is not None:
        from hubbleclip.similarity.ssl_models import SimCLRModel

        if (simclr / "export" / "simclr.json").is_file():
            simclr = simclr / "export"
        model = SimCLRModel.load(simclr, device=device)
        return Encoder(spec, model.encode_image, model.image_transform(train=False), model)
    from hubbleclip.models import load_model

    if spec.startswith("features:"):
        model = load_model(spec[len("features:") :], device=device)
        return Encoder(spec, model.image_features, model.image_transform(train=False), model)
    model = load_model(spec, device=device)
    return Encoder(spec, model.encode_image, model.image_transform(train=False), model)
