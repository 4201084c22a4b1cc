"""CLIP-style models behind one interface: ``load_model(spec)`` -> :class:`ClipModel`.

Families: ``lit-mini`` (offline LiT-style default), open_clip, Hugging Face CLIP, and tiny
random-init configs of each for tests.  ``embed_images`` / ``embed_texts`` return normalised
numpy arrays for search and evaluation.
"""

import importlib

from hubbleclip.models.specs import SPEC_HELP

__all__ = ["SPEC_HELP", "ClipModel", "Tower", "embed_images", "embed_texts", "load_model"]
# torch is imported on first use, so that importing a config (e.g. for --help) stays fast
_LAZY = {
    "ClipModel": "base",
    "Tower": "base",
    "load_model": "loader",
    "embed_images": "embed",
    "embed_texts": "embed",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f"hubbleclip.models.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'hubbleclip.models' has no attribute {name!r}")
