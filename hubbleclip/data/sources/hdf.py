"""Cut-outs of detected sources in the Hubble Deep Field image that ships with scikit-image.

An image-only set (no catalog text): sources are found by a background-subtracted threshold and
connected-component labelling, and the brightest are cut out as square stamps.
"""

from __future__ import annotations

import numpy as np

CREDIT = "Hubble Deep Field, R. Williams (STScI) and the HDF team, NASA (public domain), via scikit-image"


def detect_cutouts(
    n: int, size: int = 64, nsigma: float = 5.0
) -> list[tuple[np.ndarray, tuple[int, int], float]]:
    """The ``n`` brightest detected sources as (RGB stamp, (row, col) centre, integrated flux)."""
    from skimage import data, measure
    from skimage.color import rgb2gray

    image = data.hubble_deep_field()
    grey = rgb2gray(image)
    background = np.median(grey)
    noise = 1.4826 * np.median(np.abs(grey - background))  # robust sigma (MAD)
    labels = measure.label(grey > background + nsigma * noise)
    regions = sorted(
        measure.regionprops(labels, intensity_image=grey - background),
        key=lambda r: -r.intensity_mean * r.area,
    )
    half = size // 2
    out = []
    for region in regions:
        r, c = (round(v) for v in region.centroid_weighted)
        if half <= r < image.shape[0] - half and half <= c < image.shape[1] - half:
            out.append(
                (
                    image[r - half : r + half, c - half : c + half],
                    (r, c),
                    float(region.intensity_mean * region.area),
                )
            )
        if len(out) == n:
            break
    return out


def to_record(index: int, centre: tuple[int, int], image_bytes: bytes) -> dict:
    return {
        "id": f"hdf:{index:04d}",
        "source": "hdf",
        "image": {"bytes": image_bytes, "path": None},
        "object_id": f"HDF:{centre[0]}_{centre[1]}",
        "names": [f"HDF source at pixel ({centre[1]}, {centre[0]})"],
        "type": "deep field source",
        "ra_deg": float("nan"),
        "dec_deg": float("nan"),
        "mag": float("nan"),
        "text": "A faint source cut out of the Hubble Deep Field, a 10-day exposure of a small, "
        "empty-looking patch of sky in Ursa Major that revealed thousands of distant galaxies.",
        "caption": "faint distant galaxy, deep field source; faint distant galaxies, galaxy evolution",
        "credit": CREDIT,
    }
