"""Deterministic train/val/test splits by object: no object in two splits."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hubbleclip.errors import UserError

SPLITS = ("train", "val", "test")


def assign_splits(
    object_ids: Sequence[str],
    seed: int = 0,
    fractions: Sequence[float] = (0.8, 0.1, 0.1),
    groups: Sequence[str] | None = None,
) -> list[str]:
    """Split name for each row; rows sharing an object id always share a split.

    Objects are split separately within each group (e.g. by source), so that every group is
    represented in every split in proportion; within a group the order is a seeded permutation of
    the sorted object ids, so the result depends only on the ids, the groups and the seed.
    """
    if len(fractions) != 3 or min(fractions) < 0 or not np.isclose(sum(fractions), 1.0):
        raise UserError(f"fractions must be three non-negative numbers summing to 1, got {list(fractions)}")
    groups = list(groups) if groups is not None else ["all"] * len(object_ids)
    if len(groups) != len(object_ids):
        raise ValueError("groups and object_ids must have the same length")
    group_of: dict[str, str] = {}
    for oid, grp in zip(object_ids, groups):
        group_of.setdefault(oid, grp)  # an object's first row decides its group
    split_of: dict[str, str] = {}
    for grp in sorted(set(group_of.values())):
        ids = sorted(o for o, g in group_of.items() if g == grp)
        order = np.random.default_rng([seed, _stable_hash(grp)]).permutation(len(ids))
        n_val, n_test = _counts(len(ids), fractions)
        for rank, idx in enumerate(order):
            split_of[ids[idx]] = "test" if rank < n_test else "val" if rank < n_test + n_val else "train"
    return [split_of[o] for o in object_ids]


def _counts(n: int, fractions: Sequence[float]) -> tuple[int, int]:
    n_val, n_test = round(n * fractions[1]), round(n * fractions[2])
    # small groups still get one object in each non-empty split, as long as train keeps one
    if n >= 3:
        n_val = max(n_val, 1) if fractions[1] > 0 else 0
        n_test = max(n_test, 1) if fractions[2] > 0 else 0
    return n_val, n_test


def _stable_hash(text: str) -> int:
    import zlib

    return zlib.crc32(text.encode("utf-8"))


def object_folds(object_ids: Sequence[str], k: int, seed: int = 0) -> np.ndarray:
    """Fold number (0..k-1) of each row for k-fold cross-validation by object: rows sharing an
    object id share a fold, and objects are dealt round-robin from a seeded permutation of the
    sorted ids, so fold sizes differ by at most one object."""
    ids = sorted(set(object_ids))
    if not 2 <= k <= len(ids):
        raise UserError(f"{k} folds for {len(ids)} objects: expected 2 <= folds <= objects")
    order = np.random.default_rng(seed).permutation(len(ids))
    fold_of = {ids[idx]: rank % k for rank, idx in enumerate(order)}
    return np.array([fold_of[o] for o in object_ids], dtype=np.int64)
