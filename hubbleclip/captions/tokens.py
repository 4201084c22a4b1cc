"""Caption length in CLIP text-encoder tokens (the BPE vocabulary that ships inside open_clip)."""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=4)
def _tokenizer(arch: str):
    import open_clip

    return open_clip.get_tokenizer(arch)


def clip_token_count(text: str, arch: str = "ViT-B-32") -> int:
    """Tokens the CLIP text encoder sees, including its start and end tokens."""
    return len(_tokenizer(arch).encode(text)) + 2


def fits_clip(text: str, arch: str = "ViT-B-32") -> bool:
    """True when nothing of ``text`` is cut off by the text encoder's 77-token window."""
    return clip_token_count(text, arch) <= _tokenizer(arch).context_length
