"""What the web app serves, as one object: search, classification, image store and image space.

``SkyEngine`` is injected into :func:`hubbleclip.web.app.create_app`; :func:`load_engine` builds
the real one from a retrieval index directory (and optionally a similarity index).  Search,
ranking, similarity and zero-shot scoring are the library's; this module only connects them.
Every request first takes a :class:`View`: the caller's masks over the objects, the stored images
and the image space, from the engine's one :class:`~hubbleclip.access.policy.AccessPolicy`.  The
image store's access table (the retrieval index's) decides for the similarity view too, and
:func:`load_engine` refuses a similarity index whose rows or release dates disagree with it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from hubbleclip.access.policy import AccessPolicy, AccessTable, Viewer
from hubbleclip.access.tokens import LiveTokenStore
from hubbleclip.errors import UserError
from hubbleclip.evaluation.classes import load_classes, load_templates
from hubbleclip.evaluation.zero_shot import class_embeddings, top_classes
from hubbleclip.models import embed_images
from hubbleclip.search.searcher import Searcher
from hubbleclip.web.config import ServeConfig
from hubbleclip.web.similar import ImageSpace
from hubbleclip.web.store import DatasetImages, ImageStore

log = logging.getLogger(__name__)


# image, k -> [{"class", "probability", "similarity"}, ...] best first
Classifier = Callable[[Image.Image, int], list[dict]]


@dataclass(frozen=True)
class View:
    """What one caller may see: boolean masks over the index objects, the stored images (in
    ``store.ids`` order) and the rows of the image space."""

    viewer: Viewer
    objects: np.ndarray
    images: np.ndarray
    space: np.ndarray


@dataclass
class SkyEngine:
    """``searcher`` is a :class:`hubbleclip.search.searcher.Searcher` (``search(text=|image=, k=,
    visible=)`` and its ``index``); ``space`` holds the vectors of the similarity view; ``tokens``
    the accepted bearer tokens (None: every caller is anonymous)."""

    searcher: Searcher
    classify: Classifier
    store: ImageStore
    space: ImageSpace
    policy: AccessPolicy = field(default_factory=AccessPolicy)
    tokens: LiveTokenStore | None = None

    def __post_init__(self):
        unknown = [i for i in self.space.ids if i not in self.store]
        if unknown:
            raise ValueError(f"{len(unknown)} images of the image space are not stored, e.g. {unknown[0]!r}")
        # where each image-space row sits in the store: its visibility is the store's, never the
        # space's own table (one table decides for every route)
        self._space_in_store = np.array([self.store.position[i] for i in self.space.ids], np.int64)

    def view(self, viewer: Viewer) -> View:
        see = self.policy.visible
        images = see(self.store.access, viewer)
        space = images[self._space_in_store]
        space.setflags(write=False)
        return View(viewer, see(self.searcher.index.access, viewer), images, space)

    def image_visible(self, view: View, image_id: str) -> bool:
        """Stored, and visible to the caller (unknown and not-yet-public ids are the same: False)."""
        return self.store.visible(image_id, view.images)


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


def image_locations(index) -> tuple[dict[str, tuple[str, int]], AccessTable]:
    """image id -> (split, row) for every object image of a retrieval index, and their access table
    (each image has the release date and program of its index entry)."""
    corpus, access = index.corpus, index.access
    locations, owners = {}, []
    for entry, (ids, refs) in enumerate(zip(corpus.image_ids, corpus.image_rows)):
        for image_id, ref in zip(ids, refs):
            locations[image_id] = ref
            owners.append(entry)
    return locations, access.subset(np.asarray(owners, np.int64))


def _access_text(table: AccessTable, row: int) -> str:
    date, program = table.release_date(row), table.program(row)
    return f"release {date or 'public'}, program {program or 'none'}"


def check_same_rows(store: ImageStore, space: ImageSpace, cfg: ServeConfig) -> None:
    """The similarity index's images must be the retrieval index's, with the same release dates and
    programs: an index built before the dates were added would otherwise show private images."""
    if not cfg.similarity:
        return  # the space is the retrieval index's own
    unknown = [i for i in space.ids if i not in store]
    if unknown:
        raise UserError(
            f"similarity index {cfg.similarity}: {len(unknown)} of its images (e.g. {unknown[0]!r}) are "
            f"not in the retrieval index {cfg.index}; build both indexes from the same dataset"
        )
    rows = np.array([store.position[i] for i in space.ids], np.int64)
    differ = space.access.disagreements(store.access.subset(rows))
    if len(differ):
        r = int(differ[0])
        raise UserError(
            f"similarity index {cfg.similarity} and retrieval index {cfg.index} disagree on who may see "
            f"{len(differ)} images (e.g. {space.ids[r]!r}: {_access_text(space.access, r)} in the first, "
            f"{_access_text(store.access, int(rows[r]))} in the second); rebuild both from the same dataset"
        )


def load_engine(cfg: ServeConfig, policy: AccessPolicy | None = None) -> SkyEngine:
    """The real engine: the retrieval index's searcher and encoder (``cfg.model``: another copy of
    it, checked against the index's digest), its previews as the image store (an old-format index:
    its dataset), and a similarity index (``cfg.similarity``) or else the index's per-object image
    vectors."""
    searcher = Searcher.open(cfg.index, device=cfg.device, model=cfg.model or None)
    index = searcher.index
    locations, access = image_locations(index)
    source = index.previews if index.previews is not None else DatasetImages(index.dataset_path, locations)
    if index.previews is not None and index.previews.ids != list(locations):
        raise UserError(
            f"{cfg.index}: its previews hold {len(index.previews)} images, its objects name "
            f"{len(locations)} in another order; rebuild the index"
        )
    store = ImageStore(source, list(locations), thumb_size=cfg.limits.thumb_size, access=access)
    if cfg.similarity:
        space = ImageSpace.from_similarity_index(cfg.similarity)
    else:
        space = ImageSpace.from_retrieval_index(index)
    check_same_rows(store, space, cfg)
    log.info("engine: %d objects, %d images, similarity from %s", len(index), len(store), space.description)
    tokens = LiveTokenStore(cfg.tokens, cfg.token_check_s) if cfg.tokens and not cfg.public_only else None
    return SkyEngine(
        searcher=searcher,
        classify=ZeroShot(searcher.encoder.model),
        store=store,
        space=space,
        policy=policy or AccessPolicy(),
        tokens=tokens,
    )
