"""CLIP-style models behind one interface: ``load_model(spec)`` -> :class:`ClipModel`.

Families: ``lit-mini`` (offline LiT-style default), open_clip, Hugging Face CLIP, and tiny
random-init configs of each for tests.  ``embed_images`` / ``embed_texts`` return normalised
numpy arrays for search and evaluation.
"""

from hubbleclip.models.base import ClipModel, Tower
from hubbleclip.models.embed import embed_images, embed_texts
from hubbleclip.models.loader import SPEC_HELP, load_model

__all__ = ["ClipModel", "Tower", "load_model", "embed_images", "embed_texts", "SPEC_HELP"]
