"""``lit-mini``'s general-domain base: projections that align its two packaged towers through
ImageNet's 1000 classes only, in the spirit of DeViSE (Frome et al. 2013).  No astronomy data.

* Image projection: the top right singular vectors (as many as the embedding size) of
  EfficientNet-Lite0's ImageNet classifier (1000 × 1280, shipped in the same ``.pth`` as the
  tower); data-free.
* Text projection: a linear map fitted with InfoNCE so that the MiniLM features of prompted
  class names ("a photo of a {c}.", ...) land on the classifier rows in that projected space
  (class names from torchvision's ImageNet metadata, offline).

Training *both* projections on the classifier rows fits them but does not transfer to real image
features (a cat became "fox squirrel"), so the image side stays the fixed SVD basis.  The build is
seeded and runs on one CPU thread, so it is deterministic; the result is cached under
``cache_root("models")``, keyed by the classifier, the text tower and the recipe, and rebuilt in
seconds when missing (the prompts' text features come from the one feature cache).
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from contextlib import contextmanager

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save
from torch import nn

from hubbleclip.io import atomic_write_bytes, cache_root
from hubbleclip.models.feature_cache import FeatureCache, tensors_digest, text_features, text_space

log = logging.getLogger(__name__)

TEMPLATES = ("a photo of a {}.", "a picture of a {}.", "an image of a {}.")
STEPS, LR, SEED = 800, 1e-3, 0
RECIPE = f"svd|{'|'.join(TEMPLATES)}|infonce-lr{LR}-seed{SEED}|v1"
KEYS = ("image_proj.weight", "image_proj.bias", "text_proj.weight", "text_proj.bias", "logit_scale")


def imagenet_classes() -> list[str]:
    """The 1000 ImageNet class names in classifier order (shipped with torchvision, no download)."""
    from torchvision.models import ResNet50_Weights

    return list(ResNet50_Weights.IMAGENET1K_V1.meta["categories"])


@contextmanager
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def image_basis(classifier: torch.Tensor, rank: int) -> torch.Tensor:
    """[rank, F]: the top right singular vectors of the [classes, F] classifier matrix (sign fixed
    so each vector's largest entry is positive, which makes the basis unique)."""
    _, _, vh = torch.linalg.svd(classifier.double(), full_matrices=False)
    basis = vh[:rank]
    signs = torch.sign(basis.gather(1, basis.abs().argmax(1, keepdim=True)))
    return (basis * signs).float()


def fit_text_projection(
    prompt_features: torch.Tensor, targets: torch.Tensor, steps: int = STEPS, lr: float = LR, seed: int = SEED
) -> tuple[nn.Linear, float, float]:
    """A linear map of prompt features [templates, classes, F] onto the L2-normalised ``targets``
    [classes, D], fitted with symmetric InfoNCE (one random template per class each step) and a
    learnable temperature; returns (map, temperature, final loss)."""
    n_templates, n_classes, dim = prompt_features.shape
    gen = torch.Generator().manual_seed(seed)
    proj = nn.Linear(dim, targets.shape[1])
    nn.init.normal_(proj.weight, std=dim**-0.5, generator=gen)
    nn.init.zeros_(proj.bias)
    log_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))
    opt = torch.optim.Adam([*proj.parameters(), log_scale], lr=lr)
    labels = torch.arange(n_classes)
    loss = torch.tensor(float("nan"))
    for _ in range(steps):
        template = torch.randint(n_templates, (n_classes,), generator=gen)
        text = nn.functional.normalize(proj(prompt_features[template, labels]), dim=-1)
        logits = log_scale.exp() * text @ targets.T
        loss = (
            nn.functional.cross_entropy(logits, labels) + nn.functional.cross_entropy(logits.T, labels)
        ) / 2
        opt.zero_grad()
        loss.backward()
        opt.step()
        with torch.no_grad():
            log_scale.clamp_(0, math.log(100))
    return proj, float(log_scale.detach().exp()), float(loss.detach())


def build_projections(
    model, classifier: torch.Tensor, cache: FeatureCache, steps: int = STEPS
) -> dict[str, torch.Tensor]:
    """The general-domain head weights for a lit model (``KEYS``), computed from scratch."""
    t0 = time.perf_counter()
    classes = imagenet_classes()
    if len(classes) != classifier.shape[0]:
        raise ValueError(f"{len(classes)} ImageNet class names for a {classifier.shape[0]}-class classifier")
    prompts = [t.format(c) for t in TEMPLATES for c in classes]
    feats = text_features(model, prompts, cache).reshape(len(TEMPLATES), len(classes), -1)
    with _one_thread(), torch.random.fork_rng(devices=[]):
        basis = image_basis(classifier, model.image_proj.out_features)
        targets = nn.functional.normalize(classifier @ basis.T, dim=-1)
        with torch.enable_grad():
            text_proj, scale, loss = fit_text_projection(feats, targets, steps)
    log.info(
        "built lit-mini's general-domain projections in %.1f s (%d classes × %d templates, final loss %.3f)",
        time.perf_counter() - t0,
        len(classes),
        len(TEMPLATES),
        loss,
    )
    return {
        "image_proj.weight": basis.contiguous(),
        "image_proj.bias": torch.zeros(basis.shape[0]),
        "text_proj.weight": text_proj.weight.detach().contiguous(),
        "text_proj.bias": text_proj.bias.detach().contiguous(),
        "logit_scale": torch.tensor(math.log(scale)),
    }


def general_projections(
    model, classifier: torch.Tensor, cache: FeatureCache, steps: int = STEPS
) -> dict[str, torch.Tensor]:
    """The cached general-domain head weights (built and stored when missing or unreadable)."""
    recipe = f"{RECIPE}|steps{steps}|rank{model.image_proj.out_features}|{text_space(model)}"
    key = hashlib.sha1(f"{recipe}|{tensors_digest([('classifier', classifier)])}".encode()).hexdigest()[:24]
    path = cache_root("models", f"{model.spec}-general-{key}.safetensors")
    if path.is_file():
        try:
            stored = load_file(str(path))
            if set(stored) == set(KEYS):
                return stored
            log.warning("%s holds %s, not %s: rebuilding it", path, sorted(stored), list(KEYS))
        except (OSError, SafetensorError) as exc:
            log.warning("ignoring unreadable %s (%s): rebuilding it", path, exc)
    weights = build_projections(model, classifier, cache, steps)
    atomic_write_bytes(path, save(weights))
    return weights


def apply_general_base(model, classifier: torch.Tensor, cache: FeatureCache) -> None:
    """Load the general-domain projections and temperature into a lit model (in place)."""
    weights = general_projections(model, classifier, cache)
    with torch.no_grad():
        model.image_proj.weight.copy_(weights["image_proj.weight"])
        model.image_proj.bias.copy_(weights["image_proj.bias"])
        model.text_proj.weight.copy_(weights["text_proj.weight"])
        model.text_proj.bias.copy_(weights["text_proj.bias"])
        model.logit_scale.copy_(weights["logit_scale"])
