"""What a model knows of the everyday world: scikit-image's general photos against ImageNet's 1000
classes, and short free-text descriptions against those photos.

The check a general-domain base (``lit-mini``) must pass and a from-scratch one (``lit-mini@scratch``)
fails; a fine-tuned model's score here shows how much it forgot (WiSE-FT curves).  ``astronaut`` has
no fitting ImageNet class (there is no space suit), so it only takes part in the free-text check.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import skimage.data
from PIL import Image

from hubbleclip.models.base import ClipModel
from hubbleclip.models.embed import NO_CACHE, embed_images, embed_texts
from hubbleclip.models.feature_cache import FeatureCache
from hubbleclip.models.general_base import TEMPLATES, imagenet_classes

# photo -> (its description for the free-text check, the ImageNet classes that are right for it)
PHOTOS: dict[str, tuple[str, frozenset[str]]] = {
    "chelsea": ("a cat", frozenset({"tabby", "tiger cat", "Persian cat", "Siamese cat", "Egyptian cat"})),
    "coffee": (
        "a cup of coffee",
        frozenset({"espresso", "cup", "coffee mug", "coffeepot", "espresso maker"}),
    ),
    "rocket": ("a rocket launch", frozenset({"missile", "projectile", "space shuttle"})),
    "astronaut": ("an astronaut in a space suit", frozenset()),
    "motorcycle": ("a motorcycle", frozenset({"moped", "motor scooter", "crash helmet", "disk brake"})),
    "camera": (
        "a photographer with a camera on a tripod",
        frozenset({"tripod", "reflex camera", "Polaroid camera"}),
    ),
}
TOP_K = 5


def general_photos() -> dict[str, Image.Image]:
    """The photos of ``PHOTOS`` as RGB images (they ship in the scikit-image wheel)."""
    arrays = {
        "chelsea": skimage.data.chelsea(),
        "coffee": skimage.data.coffee(),
        "rocket": skimage.data.rocket(),
        "astronaut": skimage.data.astronaut(),
        "motorcycle": skimage.data.stereo_motorcycle()[0],
        "camera": np.stack([skimage.data.camera()] * 3, axis=-1),  # grey
    }
    return {name: Image.fromarray(arrays[name]).convert("RGB") for name in PHOTOS}


@dataclass
class GeneralDomainCheck:
    top_classes: dict[str, list[str]]  # photo -> its TOP_K ImageNet classes, best first
    class_hits: int  # photos with a right class in their top TOP_K
    class_photos: int  # photos that have a right ImageNet class at all
    text_to_photo: int  # descriptions whose best photo (of the 6) is their own
    photo_to_text: int  # photos whose best description (of the 6) is their own
    n_photos: int

    def to_dict(self) -> dict:
        return asdict(self)


def general_domain_check(model: ClipModel, cache: FeatureCache = NO_CACHE) -> GeneralDomainCheck:
    """Zero-shot ImageNet classification (``TEMPLATES`` averaged) and free-text retrieval on the photos."""
    photos = general_photos()
    images = embed_images(model, list(photos.values()), cache=cache)
    classes = imagenet_classes()
    prompts = np.mean([embed_texts(model, [t.format(c) for c in classes], cache=cache) for t in TEMPLATES], 0)
    prompts /= np.linalg.norm(prompts, axis=1, keepdims=True)
    top = np.argsort(-(images @ prompts.T), axis=1, kind="stable")[:, :TOP_K]
    top_classes = {name: [classes[i] for i in row] for name, row in zip(photos, top)}
    right = {name: PHOTOS[name][1] for name in photos if PHOTOS[name][1]}
    descriptions = embed_texts(model, [PHOTOS[name][0] for name in photos], cache=cache)
    sims = images @ descriptions.T
    own = np.arange(len(photos))
    return GeneralDomainCheck(
        top_classes=top_classes,
        class_hits=sum(bool(right[n] & set(top_classes[n])) for n in right),
        class_photos=len(right),
        text_to_photo=int((sims.argmax(axis=0) == own).sum()),
        photo_to_text=int((sims.argmax(axis=1) == own).sum()),
        n_photos=len(photos),
    )
