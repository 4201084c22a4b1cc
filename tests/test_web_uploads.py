"""Safe decoding of uploads: real images pass; wrong types, oversize files, bombs and corrupt files fail
with the right status."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from hubbleclip.web.uploads import UploadError, decode_image

M31 = Path(__file__).parent / "data" / "stellarium" / "nebulae" / "default" / "m31.png"
LIMITS = {"max_bytes": 8 * 2**20, "max_pixels": 40_000_000}


def png_with_size(width: int, height: int) -> bytes:
    """A valid 1x1 PNG whose header claims ``width`` x ``height`` (what a decompression bomb looks like)."""
    buf = io.BytesIO()
    Image.new("L", (1, 1)).save(buf, "PNG")
    data = bytearray(buf.getvalue())
    ihdr = 8 + 8  # signature, then length + b"IHDR"
    data[ihdr : ihdr + 8] = struct.pack(">II", width, height)
    data[ihdr + 13 : ihdr + 17] = struct.pack(">I", zlib.crc32(bytes(data[ihdr - 4 : ihdr + 13])))
    return bytes(data)


def expect(status: int, data: bytes, content_type: str, **limits) -> str:
    with pytest.raises(UploadError) as info:
        decode_image(data, content_type, **{**LIMITS, **limits})
    assert info.value.status == status, str(info.value)
    return str(info.value)


def test_real_png_decodes_to_rgb():
    data = M31.read_bytes()
    image = decode_image(data, "image/png; charset=binary", **LIMITS)
    with Image.open(M31) as ref:
        assert image.size == ref.size
    assert image.mode == "RGB"


def test_jpeg_is_accepted_and_declared_type_must_match():
    buf = io.BytesIO()
    Image.open(M31).convert("RGB").save(buf, "JPEG")
    assert decode_image(buf.getvalue(), "image/jpeg", **LIMITS).mode == "RGB"
    assert "declared image/png but is JPEG" in expect(415, buf.getvalue(), "image/png")


def test_unsupported_or_missing_type_is_415():
    assert "text/plain" in expect(415, b"hello", "text/plain")
    assert "(none)" in expect(415, M31.read_bytes(), "")
    assert "not a readable image" in expect(415, b"\x00" * 64, "image/png")


def test_too_many_bytes_is_413():
    data = M31.read_bytes()
    assert "exceeds the limit of 1,000 bytes" in expect(413, data, "image/png", max_bytes=1000)


def test_too_many_pixels_is_413_before_decoding():
    # 64 Mpx: under Pillow's own guard, over our limit
    assert "8000x8000 pixels exceeds the limit of 40,000,000" in expect(
        413, png_with_size(8000, 8000), "image/png"
    )


def test_pillow_bomb_guard_applies_even_with_a_generous_pixel_limit():
    # above Pillow's MAX_IMAGE_PIXELS: its own guard refuses (error or warning, both become 413)
    side = int((Image.MAX_IMAGE_PIXELS * 1.5) ** 0.5)
    assert "decompression bomb" in expect(413, png_with_size(side, side), "image/png", max_pixels=10**12)
    side = int((Image.MAX_IMAGE_PIXELS * 3) ** 0.5)
    assert "decompression bomb" in expect(413, png_with_size(side, side), "image/png", max_pixels=10**12)


def test_truncated_or_empty_files_are_400():
    data = M31.read_bytes()
    assert "could not be decoded" in expect(400, data[: len(data) // 2], "image/png")
    assert "empty upload" in expect(400, b"", "image/png")
