"""Cone search on the corpus's unit vectors: every object within a radius, nearest first."""

from __future__ import annotations

import numpy as np

from hubbleclip.search.relevance import separation_arcsec


def cone(
    xyz: np.ndarray, center: np.ndarray, radius_deg: float, allowed: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(corpus indices, separations in arcsec) of the objects within ``radius_deg`` of ``center``.

    A dot-product cut finds the cone with a margin and the separations (atan2 form, which does
    not care about a vector's length) decide and order it, both in float64.  The margin is wide
    because the index stores float32 vectors: their lengths are off by up to 5e-8 (the demo
    index), and near 1 a cosine that far off is a ~1 arcmin angle (cos(1') = 1 - 4e-8), so a
    small cone cut without it missed objects at its own centre.  Objects without a position (NaN
    vectors) are never inside.
    """
    center = np.asarray(center, np.float64)
    xyz = np.asarray(xyz, np.float64)
    margin = np.radians(5.0 / 60.0)
    inside = xyz @ center >= np.cos(min(np.radians(radius_deg) + margin, np.pi))
    if allowed is not None:
        inside &= allowed
    rows = np.flatnonzero(inside)
    sep = separation_arcsec(xyz[rows], center)
    keep = sep <= radius_deg * 3600.0
    rows, sep = rows[keep], sep[keep]
    order = np.lexsort((rows, sep))
    return rows[order], sep[order]
