"""Features of a locked tower, computed once per (model weights, dataset rows, transform/texts).

A locked tower with no trainable block gives the same output every epoch, so training only its
head on cached features is exact and much faster (REFERENCE: 45 ms/image for EfficientNet-Lite0
on 2 CPU cores).  Files live under ``$HUBBLECLIP_CACHE`` (default ``~/.cache/hubbleclip``) in
``features/<key>.safetensors``; the key hashes everything the features depend on.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

import torch

log = logging.getLogger(__name__)


def cache_dir(configured: str = "") -> Path:
    if configured:
        return Path(configured)
    return Path(os.environ.get("HUBBLECLIP_CACHE") or Path.home() / ".cache" / "hubbleclip") / "features"


def tower_digest(trunk) -> str:
    """Hash of a tower's weights and buffers (the model spec alone does not pin a fine-tuned export)."""
    h = hashlib.sha1()
    for item in trunk:
        tensors = [item] if isinstance(item, torch.nn.Parameter) else list(item.state_dict().values())
        for t in tensors:
            h.update(t.detach().cpu().reshape(-1).contiguous().view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def cached_features(
    key_parts: dict, compute: Callable[[], torch.Tensor], directory: Path, accelerator
) -> torch.Tensor:
    """Load the features for ``key_parts`` or compute them (main process first, others then load)."""
    from safetensors.torch import load_file, save

    from hubbleclip.io import atomic_write_bytes

    key = hashlib.sha1(json.dumps(key_parts, sort_keys=True, default=str).encode()).hexdigest()[:20]
    path = directory / f"{key}.safetensors"
    with accelerator.main_process_first():
        if path.is_file():
            log.info("cached %s features: %s", key_parts.get("what"), path)
            return load_file(str(path))["features"]
        t0 = time.perf_counter()
        feats = compute().float().contiguous()
        atomic_write_bytes(path, save({"features": feats}))
        log.info(
            "computed %d %s features in %.1f s -> %s",
            len(feats),
            key_parts.get("what"),
            time.perf_counter() - t0,
            path,
        )
        return feats


@torch.inference_mode()
def image_features(model, images, transform, batch_size: int = 64) -> torch.Tensor:
    model.eval()
    out = []
    for i in range(0, len(images), batch_size):
        batch = torch.stack(
            [transform(images[j]["image"]) for j in range(i, min(i + batch_size, len(images)))]
        )
        out.append(model.image_features(batch.to(model.device)).float().cpu())
    return torch.cat(out)


@torch.inference_mode()
def text_features(model, texts: list[str], batch_size: int = 256) -> torch.Tensor:
    """Features of each text, computing every distinct string once."""
    model.eval()
    unique = list(dict.fromkeys(texts))
    out = []
    for i in range(0, len(unique), batch_size):
        tokens = {k: v.to(model.device) for k, v in model.tokenize(unique[i : i + batch_size]).items()}
        out.append(model.text_features(tokens).float().cpu())
    feats = torch.cat(out)
    index = {t: i for i, t in enumerate(unique)}
    return feats[torch.tensor([index[t] for t in texts])]


def tower_key(model, tower: str) -> str:
    return tower_digest(model.towers()[tower].trunk)
