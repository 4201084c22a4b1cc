"""Rank the classes of a class list for one image file (``hubbleclip classify``)."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, UnidentifiedImageError

from hubbleclip.errors import UserError
from hubbleclip.evaluation.classes import load_classes, load_templates
from hubbleclip.evaluation.zero_shot import class_embeddings, top_classes
from hubbleclip.models.embed import embed_images


def open_image(path: str | Path):
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image {path} not found")
    try:
        with Image.open(path) as im:
            return im.convert("RGB")
    except (UnidentifiedImageError, OSError) as exc:
        raise UserError(f"{path}: not a readable image ({exc})") from None


def classify_image(
    model, image_path: str | Path, classes: str = "descriptions", templates: str = "default", k: int = 5
) -> list[dict]:
    """The ``k`` best classes with cosine similarity and softmax probability (model temperature)."""
    if k < 1:
        raise UserError(f"--top must be at least 1, got {k}")
    names = load_classes(classes)
    image = embed_images(model, [open_image(image_path)])[0]
    sims = class_embeddings(model, names, load_templates(templates)) @ image
    return top_classes(sims, names, float(model.logit_scale.detach().exp()), k)
