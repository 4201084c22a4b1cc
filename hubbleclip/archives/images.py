"""Image helpers for archive datasets: decode, detect colour, square up, store as PNG files."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from hubbleclip.io import atomic_write_bytes


def decode(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    im.load()
    return im


def store_grey(data: bytes, size: int, path: Path) -> str:
    """Store a cut-out as a grey ``size``² image at ``path`` (suffix set here): a JPEG that
    already is one is kept byte for byte (no re-encoding, no quality loss), anything else
    becomes a PNG."""
    im = Image.open(io.BytesIO(data))  # reads the header only
    if im.format == "JPEG" and im.mode == "L" and im.size == (size, size):
        im.verify()
        return str(atomic_write_bytes(path.with_suffix(".jpg"), data))
    im.load()
    return save_png(grey(im, size), path.with_suffix(".png"))


def is_colour(im: Image.Image, tolerance: int = 8, fraction: float = 0.01) -> bool:
    """True when more than ``fraction`` of pixels have channels differing by more than ``tolerance``."""
    if im.mode in ("1", "L", "I", "I;16", "F", "LA"):
        return False
    rgb = np.asarray(im.convert("RGB"), dtype=np.int16)
    spread = rgb.max(axis=2) - rgb.min(axis=2)
    return float((spread > tolerance).mean()) > fraction


def square(im: Image.Image, size: int, fill: str | int = "white") -> Image.Image:
    """Pad to a square with ``fill`` (aspect kept, image centred) and resize to ``size``x``size``."""
    if im.mode not in ("L", "RGB"):
        im = im.convert("RGB")
    return ImageOps.pad(im, (size, size), method=Image.Resampling.LANCZOS, color=fill)


def grey(im: Image.Image, size: int) -> Image.Image:
    """Single-channel ``size``x``size`` image (padded with black sky if not square)."""
    im = im.convert("L")
    return (
        im
        if im.size == (size, size)
        else ImageOps.pad(im, (size, size), method=Image.Resampling.LANCZOS, color=0)
    )


def save_png(im: Image.Image, path: Path) -> str:
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    atomic_write_bytes(path, buf.getvalue())
    return str(path)
