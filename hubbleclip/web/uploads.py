"""Safe decoding of uploaded images: size, type and pixel limits before any pixel is decoded.

Errors carry the HTTP status the page should answer with (413 too large, 415 wrong type,
400 unreadable, 503 busy), so the app turns them into a one-line JSON message.
:class:`DecodeSlots` bounds how many uploads are decoded at once, and so the server's memory.
"""

from __future__ import annotations

import contextlib
import io
import threading
import warnings
from collections.abc import Iterator

from PIL import Image, UnidentifiedImageError

# declared content type -> the Pillow formats a file of that type may really be
ALLOWED_TYPES = {
    "image/png": ("PNG",),
    "image/jpeg": ("JPEG", "MPO"),
    "image/gif": ("GIF",),
    "image/webp": ("WEBP",),
    "image/tiff": ("TIFF",),
}


RETRY_AFTER_S = 2  # what a 503 tells the client to wait; a decode and search take about a second


class UploadError(ValueError):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.headers = status, headers


class DecodeSlots:
    """At most ``slots`` uploads decoded and searched at once: each holds a decoded image of up to
    max_pixels x 3 bytes and Pillow's working copies, so this bounds the server's memory.  Up to
    ``queue`` more wait for a slot, at most ``wait_s`` seconds each; the rest get a 503 with
    ``Retry-After``.  Blocking: call :meth:`slot` from a worker thread, not the event loop."""

    def __init__(self, slots: int, queue: int, wait_s: float):
        if slots < 1:
            raise ValueError(f"limits.max_decodes: expected at least 1, got {slots}")
        self.slots, self.queue, self.wait_s = slots, queue, wait_s
        self._free = threading.BoundedSemaphore(slots)
        self._lock = threading.Lock()
        self._waiting = 0

    def _busy(self) -> UploadError:
        return UploadError(
            503,
            f"the server is decoding {self.slots} uploads already; retry in {RETRY_AFTER_S} s",
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        if not self._free.acquire(blocking=False):
            with self._lock:
                full = self._waiting >= self.queue
                self._waiting += 0 if full else 1
            if full:
                raise self._busy()
            try:
                admitted = self._free.acquire(timeout=self.wait_s)
            finally:
                with self._lock:
                    self._waiting -= 1
            if not admitted:
                raise self._busy()
        try:
            yield
        finally:
            self._free.release()


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
            # convert() copies even an RGB image: at 40 Mpx that is 160 MB more per upload
            return image if image.mode == "RGB" else image.convert("RGB")
    except UploadError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise UploadError(413, f"image rejected as a decompression bomb: {exc}") from None
    except UnidentifiedImageError:
        raise UploadError(415, f"the upload declared {media} is not a readable image") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise UploadError(400, f"the image could not be decoded ({exc})") from None
