"""What the web app serves, as one object: search, classification, image store and image space.

``SkyEngine`` is injected into :func:`hubbleclip.web.app.create_app`; :func:`load_engine` builds
the real one from a retrieval index directory (and optionally a similarity index).  Search,
ranking, similarity and zero-shot scoring are the library's; this module only connects them.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol

from PIL import Image

from hubbleclip.web.similar import ImageSpace
from hubbleclip.web.store import ImageStore

log = logging.getLogger(__name__)


@dataclass
class ObjectHit:
    object_id: str
    names: list[str]
    type: str
    ra_deg: float
    dec_deg: float
    constellation: str
    mag: float | None
    score: float
    image_ids: list[str]


class Search(Protocol):
    def text(self, query: str, k: int) -> list[ObjectHit]: ...

    def image(self, image: Image.Image, k: int) -> list[ObjectHit]: ...


# image, k -> [{"class", "probability", "similarity"}, ...] best first
Classifier = Callable[[Image.Image, int], list[dict]]


@dataclass
class SkyEngine:
    search: Search
    classify: Classifier
    store: ImageStore
    space: ImageSpace
    index: str = ""
    model: str = ""
    objects: int = 0


def finite_or_none(x) -> float | None:
    return float(x) if x is not None and math.isfinite(float(x)) else None


class ZeroShot:
    """Top zero-shot classes of an image against the skyset's class lists (prompt-ensembled)."""

    def __init__(self, model, class_lists: tuple[str, ...] = ("openngc", "first"), templates: str = "default"):
        from hubbleclip.evaluation.classes import load_classes, load_templates
        from hubbleclip.evaluation.zero_shot import class_embeddings

        self.model = model
        self.classes = list(dict.fromkeys(c for name in class_lists for c in load_classes(name)))
        self.class_emb = class_embeddings(model, self.classes, load_templates(templates))
        self.logit_scale = float(model.logit_scale.exp().item())

    def __call__(self, image: Image.Image, k: int = 5) -> list[dict]:
        from hubbleclip.evaluation.zero_shot import top_classes
        from hubbleclip.models import embed_images

        sims = embed_images(self.model, [image])[0] @ self.class_emb.T
        return top_classes(sims, self.classes, self.logit_scale, k)
