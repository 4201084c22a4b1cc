"""Safe decoding of uploaded images: size, type and pixel limits before any pixel is decoded.

Errors carry the HTTP status the page should answer with (413 too large, 415 wrong type,
400 unreadable), so the app turns them into a one-line JSON message.
"""

from __future__ import annotations

import io
import warnings

from PIL import Image, UnidentifiedImageError

# declared content type -> the Pillow formats a file of that type may really be
ALLOWED_TYPES = {
    "image/png": ("PNG",),
    "image/jpeg": ("JPEG", "MPO"),
    "image/gif": ("GIF",),
    "image/webp": ("WEBP",),
    "image/tiff": ("TIFF",),
}


class UploadError(ValueError):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def check_content_type(content_type: str | None) -> str:
    """The bare media type of an upload, or a 415 naming the allowed ones."""
    media = (content_type or "").split(";")[0].strip().lower()
    if media not in ALLOWED_TYPES:
        raise UploadError(
            415,
            f"unsupported upload type {media or '(none)'!r}; send the image bytes with "
            f"Content-Type one of {', '.join(ALLOWED_TYPES)}",
        )
    return media


def decode_image(data: bytes, content_type: str | None, *, max_bytes: int, max_pixels: int) -> Image.Image:
    """An RGB image from uploaded bytes, refusing oversized files, decompression bombs, files whose
    real format differs from the declared type, and truncated or corrupt files."""
    media = check_content_type(content_type)
    if len(data) > max_bytes:
        raise UploadError(413, f"upload of {len(data):,} bytes exceeds the limit of {max_bytes:,} bytes")
    if not data:
        raise UploadError(400, "empty upload: send the image file as the request body")
    try:
        with warnings.catch_warnings():
            # Pillow only warns between MAX_IMAGE_PIXELS and twice that: treat it as the error it is
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            probe = Image.open(io.BytesIO(data))  # reads the header only
            if probe.format not in ALLOWED_TYPES[media]:
                raise UploadError(
                    415, f"the upload is declared {media} but is {probe.format or 'not an image'}"
                )
            width, height = probe.size
            if width * height > max_pixels:
                raise UploadError(
                    413, f"image of {width}x{height} pixels exceeds the limit of {max_pixels:,} pixels"
                )
            probe.verify()  # checksums and structure, without decoding pixels
            image = Image.open(io.BytesIO(data))  # verify() leaves the file unusable: reopen to decode
            image.load()
            return image.convert("RGB")
    except UploadError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise UploadError(413, f"image rejected as a decompression bomb: {exc}") from None
    except UnidentifiedImageError:
        raise UploadError(415, f"the upload declared {media} is not a readable image") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise UploadError(400, f"the image could not be decoded ({exc})") from None
