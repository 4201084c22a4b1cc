"""CLIP-style models behind one interface: ``load_model(spec)`` -> :class:`ClipModel`.

Families: ``lit-mini`` (offline LiT-style default), open_clip and Hugging Face CLIP; a directory
written by ``ClipModel.save`` is a spec too.  ``embed_images`` / ``embed_texts`` return normalised
numpy arrays for search and evaluation, from tower features the feature cache keeps
(:mod:`hubbleclip.models.feature_cache`).  torch is imported on first use, so that importing a
config (e.g. for ``--help``) stays fast.
"""

from hubbleclip.lazy import lazy_attributes
from hubbleclip.models.specs import SPEC_HELP

__all__ = ["SPEC_HELP", "ClipEncoder", "ClipModel", "Tower", "embed_images", "embed_texts", "load_model"]
__getattr__ = lazy_attributes(
    __name__,
    {
        "ClipModel": "base",
        "Tower": "base",
        "load_model": "loader",
        "embed_images": "embed",
        "embed_texts": "embed",
        "ClipEncoder": "embed",
    },
)
