"""Graded relevance of objects to an image query, by the rule of the object-retrieval study.

For a query image of object *, every corpus object gets

    L(t, m, s) = tᵀt* + 0.2·|m − m*| + 0.05·s

with t the one-hot type vector (so tᵀt* is 1 for the same type, else 0), m the magnitude and
s the angular separation from the query object in arcseconds.  Implemented exactly as printed.

Direction of the mapping (our decision): L is read as a *loss*.  Two of its three terms grow as
an object departs from the query object (in brightness, on the sky), so lower L = more
relevant; the query object itself has L = 1.  Note that, as printed, the type term adds 1 for a
type *match*; we keep it, since at most it moves an object across one grade boundary.

Mapping to grades 1-5: one grade per decade of L, ``grade = 5 − clip(⌊log10 max(L, 1)⌋, 0, 4)``:

    L < 10        grade 5   the object itself, or anything within ~3 arcmin
    10 ≤ L < 100  grade 4   within ~33 arcmin: the same field of view (M32 for an M31 image)
    < 10³         grade 3   within ~5.5 degrees
    < 10⁴         grade 2   within ~55 degrees
    otherwise     grade 1

A linear min-max normalisation to 1-5 would not work here: separations span five decades, so
all but the farthest objects would share the top grade.  A missing magnitude (NaN on either
side) contributes 0 to the magnitude term: no evidence of a difference; an object without a
position (Hubble Deep Field cut-outs) gets grade 1.
"""

from __future__ import annotations

import numpy as np

TYPE_WEIGHT, MAG_WEIGHT, SEP_WEIGHT = 1.0, 0.2, 0.05


def type_onehot(labels: list[str], vocabulary: list[str]) -> np.ndarray:
    index = {label: i for i, label in enumerate(vocabulary)}
    out = np.zeros((len(labels), len(vocabulary)), np.float32)
    out[np.arange(len(labels)), [index[label] for label in labels]] = 1.0
    return out


def relevance_loss(t: np.ndarray, t_star: np.ndarray, m, m_star: float, s_arcsec) -> np.ndarray:
    """L(t, m, s) for objects with one-hot types ``t`` [N, K], magnitudes ``m`` and separations ``s``."""
    dm = np.abs(np.asarray(m, float) - float(m_star))
    dm = np.where(np.isfinite(dm), dm, 0.0)
    return (
        TYPE_WEIGHT * (np.asarray(t, float) @ np.asarray(t_star, float))
        + MAG_WEIGHT * dm
        + SEP_WEIGHT * np.asarray(s_arcsec, float)
    )


def grade_from_loss(loss) -> np.ndarray:
    """One grade per decade of L; an unknown L (object without a position) is grade 1."""
    loss = np.asarray(loss, float)
    decades = np.floor(np.log10(np.maximum(np.nan_to_num(loss, nan=np.inf), 1.0)))
    return (5 - np.clip(decades, 0, 4)).astype(np.int8)


def separation_arcsec(xyz: np.ndarray, xyz_star: np.ndarray) -> np.ndarray:
    """Angular separation (arcsec) between unit vectors, accurate at small angles (atan2 form)."""
    xyz, xyz_star = np.asarray(xyz, float), np.asarray(xyz_star, float)
    cross = np.linalg.norm(np.cross(xyz, xyz_star), axis=-1)
    return np.degrees(np.arctan2(cross, xyz @ xyz_star)) * 3600.0


def image_query_grades(types: list[str], mags, xyz: np.ndarray, target: int) -> np.ndarray:
    """Grades (1-5) of every corpus object for an image of object ``target``."""
    vocabulary = sorted(set(types))
    onehot = type_onehot(types, vocabulary)
    loss = relevance_loss(
        onehot, onehot[target], mags, float(np.asarray(mags)[target]), separation_arcsec(xyz, xyz[target])
    )
    return grade_from_loss(loss)
