"""What the web app serves, as one object: search, classification, image store and image space.

``SkyEngine`` is injected into :func:`hubbleclip.web.app.create_app`; :func:`load_engine` builds
the real one from a retrieval index directory (and optionally a similarity index).  Search,
ranking, similarity and zero-shot scoring are the library's; this module only connects them.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PIL import Image

from hubbleclip.errors import UserError
from hubbleclip.evaluation.classes import load_classes, load_templates
from hubbleclip.evaluation.zero_shot import class_embeddings, top_classes
from hubbleclip.models import embed_images
from hubbleclip.retrieval.search import Searcher
from hubbleclip.web.config import ServeConfig
from hubbleclip.web.similar import ImageSpace
from hubbleclip.web.store import ImageStore

if TYPE_CHECKING:
    from hubbleclip.retrieval.search import Searcher

log = logging.getLogger(__name__)


# image, k -> [{"class", "probability", "similarity"}, ...] best first
Classifier = Callable[[Image.Image, int], list[dict]]


@dataclass
class SkyEngine:
    """``searcher`` is a :class:`hubbleclip.retrieval.search.Searcher` (``search(text=|image=, k=)``
    and its ``index``); ``space`` holds the vectors of the similarity view."""

    searcher: Searcher
    classify: Classifier
    store: ImageStore
    space: ImageSpace

    def n_images(self, object_id: str) -> int:
        index = self.searcher.index
        return len(index.corpus.image_ids[index.row_of[object_id]])


def finite_or_none(x) -> float | None:
    return float(x) if x is not None and math.isfinite(float(x)) else None


class ZeroShot:
    """Top zero-shot classes of an image against the skyset's class lists (prompt-ensembled)."""

    def __init__(
        self, model, class_lists: tuple[str, ...] = ("openngc", "first"), templates: str = "default"
    ):
        self.model = model
        self.classes = list(dict.fromkeys(c for name in class_lists for c in load_classes(name)))
        self.class_emb = class_embeddings(model, self.classes, load_templates(templates))
        self.logit_scale = float(model.logit_scale.exp().item())

    def __call__(self, image: Image.Image, k: int = 5) -> list[dict]:
        sims = embed_images(self.model, [image])[0] @ self.class_emb.T
        return top_classes(sims, self.classes, self.logit_scale, k)


def image_locations(index) -> dict[str, tuple[str, int]]:
    """image id -> (split, row) for every object image of a retrieval index."""
    corpus = index.corpus
    return {
        image_id: ref
        for ids, refs in zip(corpus.image_ids, corpus.image_rows)
        for image_id, ref in zip(ids, refs)
    }


def load_engine(cfg: ServeConfig) -> SkyEngine:
    """The real engine: the retrieval index's searcher and encoder, its dataset as the image store, and
    a similarity index (``cfg.similarity``) or else the index's per-object image vectors."""
    searcher = Searcher.open(cfg.index, device=cfg.device)
    index = searcher.index
    store = ImageStore(index.manifest["dataset"], image_locations(index), thumb_size=cfg.limits.thumb_size)
    if cfg.similarity:
        space = ImageSpace.from_similarity_index(cfg.similarity)
    else:
        space = ImageSpace.from_retrieval_index(index)
    unknown = [i for i in space.ids if i not in store]
    if unknown:
        raise UserError(
            f"{space.description}: {len(unknown)} of its images (e.g. {unknown[0]!r}) are not in the "
            f"dataset of the index {cfg.index}; build both indexes from the same dataset"
        )
    log.info("engine: %d objects, %d images, similarity from %s", len(index), len(store), space.description)
    return SkyEngine(searcher=searcher, classify=ZeroShot(searcher.encoder.model), store=store, space=space)
