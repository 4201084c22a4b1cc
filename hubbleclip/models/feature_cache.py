"""Tower features computed once: the one feature cache of training, evaluation, retrieval and similarity.

A tower's *features* come before its head (see :mod:`hubbleclip.models.base`), so the cache holds
what a locked tower gives and heads are applied on the fly: ``lit-mini`` and a run that fine-tuned
its heads with locked towers share the same cached features.  Each image and each distinct text
goes through a given tower at most once, whichever job asks first.

Layout: ``CACHE/<namespace>/<shard>.safetensors`` with ``keys`` (uint8 [n, 20], the SHA-1 of each
input: the encoded image bytes, the pixels of an in-memory image, or the text) and ``features``
(float32 [n, F]).  The namespace digests the tower's weights and its input pipeline: the image
transform, or the tokenizer's output on a probe.  Every batch of new inputs becomes one shard,
written atomically, so concurrent jobs never read half a file (at worst both compute an input).
``CACHE`` is ``cache_root("features")`` unless a job names another directory.
"""

from __future__ import annotations

import hashlib
import io
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import torch
from PIL import Image
from safetensors import SafetensorError
from safetensors.torch import load_file, save
from torch import nn

from hubbleclip.io import atomic_write_bytes, cache_root

log = logging.getLogger(__name__)

# an encoded dataset image ({"bytes", "path"} as `datasets` stores it) or a decoded one
ImageInput = dict | Image.Image
# texts whose tokens pin a tokenizer: vocabulary, casing, accents, truncation length
TOKENIZER_PROBE = [
    "NGC 6720, M57, Ring Nebula: planetary nebula in Lyra; stellar evolution",
    "Émission nébuleuse — HII région, z≈0.1 ☆",
    " ".join(["spiral galaxy with dust lanes"] * 60),
]


class FeatureCache:
    """Features by (namespace, input key).  ``FeatureCache(None)`` computes everything, stores nothing."""

    def __init__(self, root: str | Path | None):
        self.root = Path(root) if root is not None else None

    @property
    def enabled(self) -> bool:
        return self.root is not None

    def features(
        self, namespace: str, keys: Sequence[bytes], compute: Callable[[list[int]], torch.Tensor]
    ) -> torch.Tensor:
        """[len(keys), F] float32 in the order of ``keys``.  ``compute(positions)`` runs the tower on
        the inputs at ``positions`` (one per key not cached yet) and returns their features."""
        known = self._load(namespace) if self.enabled else {}
        first: dict[bytes, int] = {}
        for position, key in enumerate(keys):
            first.setdefault(key, position)
        missing = [key for key in first if key not in known]
        if missing:
            t0 = time.perf_counter()
            feats = compute([first[key] for key in missing]).float().cpu().contiguous()
            log.info(
                "computed %d features in %.1f s (%s, %d of %d inputs were cached)",
                len(missing),
                time.perf_counter() - t0,
                namespace,
                len(first) - len(missing),
                len(first),
            )
            if self.enabled:
                self._store(namespace, missing, feats)
            known.update(zip(missing, feats))
        elif keys:
            log.info("%d features from the cache (%s)", len(first), namespace)
        return torch.stack([known[key] for key in keys])

    def _load(self, namespace: str) -> dict[bytes, torch.Tensor]:
        known: dict[bytes, torch.Tensor] = {}
        for shard in sorted((self.root / namespace).glob("*.safetensors")):
            try:
                tensors = load_file(str(shard))
                keys, feats = tensors["keys"], tensors["features"]
                if keys.shape != (len(feats), 20):
                    raise ValueError(f"{len(keys)} keys for {len(feats)} features")
            except (OSError, SafetensorError, KeyError, ValueError) as exc:
                log.warning("ignoring unreadable feature shard %s (%s)", shard, exc)
                continue
            known.update(zip((bytes(k) for k in keys.numpy()), feats))
        return known

    def _store(self, namespace: str, keys: list[bytes], feats: torch.Tensor) -> None:
        key_tensor = torch.frombuffer(bytearray(b"".join(keys)), dtype=torch.uint8).reshape(len(keys), 20)
        path = self.root / namespace / f"{time.time_ns()}-{uuid.uuid4().hex[:8]}.safetensors"
        atomic_write_bytes(path, save({"keys": key_tensor, "features": feats}))


def feature_cache(directory: str = "", enabled: bool = True) -> FeatureCache:
    """The cache a job's settings ask for: ``directory`` ('' = ``cache_root("features")``), or none."""
    if not enabled:
        return FeatureCache(None)
    return FeatureCache(Path(directory) if directory else cache_root("features"))


# --- keys ---------------------------------------------------------------------------------------


def image_key(image: ImageInput) -> bytes:
    """SHA-1 of an encoded image's bytes (its file's when stored by path), or of a decoded one's pixels."""
    if isinstance(image, Image.Image):
        return hashlib.sha1(f"{image.mode}{image.size}".encode() + image.tobytes()).digest()
    data = image.get("bytes") or Path(image["path"]).read_bytes()
    return hashlib.sha1(data).digest()


def text_key(text: str) -> bytes:
    return hashlib.sha1(text.encode("utf-8")).digest()


def decode_image(image: ImageInput) -> Image.Image:
    if isinstance(image, Image.Image):
        return image
    return Image.open(io.BytesIO(image["bytes"]) if image.get("bytes") else image["path"])


def tensors_digest(tensors: Iterable[tuple[str, torch.Tensor]]) -> str:
    """SHA-1 of the names, shapes, dtypes and values of named tensors."""
    h = hashlib.sha1()
    for name, t in tensors:
        h.update(f"{name}:{tuple(t.shape)}:{t.dtype};".encode())
        # a byte view works for every dtype (bfloat16 has no numpy equivalent)
        h.update(t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def weights_digest(items: Iterable[nn.Module | nn.Parameter]) -> str:
    """Digest of the weights and buffers of modules and bare parameters (a model spec alone does not
    pin a fine-tuned export)."""
    return tensors_digest(
        (f"{i}.{name}", t)
        for i, item in enumerate(items)
        for name, t in ({"": item} if isinstance(item, nn.Parameter) else item.state_dict()).items()
    )


def image_space(weights: Iterable[nn.Module | nn.Parameter], transform) -> str:
    """The namespace of an image tower's features: its weights and its input transform."""
    return _namespace("image", weights_digest(weights), repr(transform))


def text_space(model) -> str:
    """The namespace of a ClipModel's text-tower features: its weights and its tokenizer."""
    tokens = tensors_digest(model.tokenize(TOKENIZER_PROBE).items())
    return _namespace("text", weights_digest(model.tower_weights("text")), tokens)


def _namespace(kind: str, *parts: str) -> str:
    return f"{kind}-{hashlib.sha1('|'.join(parts).encode()).hexdigest()[:24]}"


# --- computing ----------------------------------------------------------------------------------


@torch.inference_mode()
def cached_image_features(
    images: Sequence[ImageInput],
    forward: Callable[[torch.Tensor], torch.Tensor],
    transform: Callable,
    space: Callable[[], str],
    cache: FeatureCache,
    device: torch.device | str = "cpu",
    batch_size: int = 64,
) -> torch.Tensor:
    """``forward(transform(image))`` of every image [N, F], through ``cache`` under the namespace
    ``space()`` (not computed when the cache is off).  ``transform`` must be deterministic: random
    views are new inputs every time."""

    def compute(positions: list[int]) -> torch.Tensor:
        out = []
        for start in range(0, len(positions), batch_size):
            batch = [transform(decode_image(images[p])) for p in positions[start : start + batch_size]]
            out.append(forward(torch.stack(batch).to(device)).float().cpu())
        return torch.cat(out)

    if not cache.enabled:
        return compute(list(range(len(images))))
    return cache.features(space(), [image_key(im) for im in images], compute)


def image_features(
    model, images: Sequence[ImageInput], cache: FeatureCache, transform=None, batch_size: int = 64
) -> torch.Tensor:
    """Image-tower features of a :class:`~hubbleclip.models.base.ClipModel` [N, F] (eval transform
    unless another is given)."""
    model.eval()
    transform = transform or model.image_transform(train=False)
    return cached_image_features(
        images,
        model.image_features,
        transform,
        lambda: image_space(model.tower_weights("image"), transform),
        cache,
        model.device,
        batch_size,
    )


@torch.inference_mode()
def text_features(model, texts: Sequence[str], cache: FeatureCache, batch_size: int = 256) -> torch.Tensor:
    """Text-tower features of a ClipModel [N, F]; texts of similar length share a batch (less padding)."""
    model.eval()

    def compute(positions: list[int]) -> torch.Tensor:
        order = sorted(positions, key=lambda p: len(texts[p]))
        out = []
        for start in range(0, len(order), batch_size):
            batch = model.tokenize([texts[p] for p in order[start : start + batch_size]])
            out.append(model.text_features({k: v.to(model.device) for k, v in batch.items()}).float().cpu())
        feats = torch.cat(out)
        rank = {p: i for i, p in enumerate(order)}
        return feats[torch.tensor([rank[p] for p in positions])]

    if not cache.enabled:
        return compute(list(range(len(texts))))
    return cache.features(text_space(model), [text_key(t) for t in texts], compute)
