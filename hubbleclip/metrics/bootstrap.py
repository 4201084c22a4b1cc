"""Percentile bootstrap intervals for statistics of per-query values, and paired differences.

Every reported number is a reducer (mean or median) of one value per query, so one resample
of query indices gives every statistic at once, and the same indices applied to two models give
a paired interval for their difference.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from hubbleclip.errors import UserError

REDUCERS = {"mean": np.mean, "median": np.median}


@dataclass(frozen=True)
class Estimate:
    """A statistic on the full sample of ``n`` units with its bootstrap percentile interval.

    ``n`` is None when unknown (results written before it was stored).
    """

    value: float
    low: float
    high: float
    n: int | None = None

    def to_dict(self) -> dict[str, float]:
        out = {"value": self.value, "low": self.low, "high": self.high}
        return out if self.n is None else out | {"n": self.n}

    @classmethod
    def from_dict(cls, d: Mapping[str, float]) -> Estimate:
        try:
            n = d.get("n")
            return cls(float(d["value"]), float(d["low"]), float(d["high"]), None if n is None else int(n))
        except (KeyError, TypeError, ValueError):
            raise UserError(
                f"estimate {dict(d)!r}: expected numbers value, low, high (and optional n)"
            ) from None

    @property
    def excludes_zero(self) -> bool:
        """The interval lies wholly above or below 0 (for a difference: a clear one)."""
        return self.low > 0 or self.high < 0

    def format(self, digits: int = 3, *, signed: bool = False, mark: str = "", bold: bool = False) -> str:
        """``value [low, high]``; ``signed`` writes ``+`` on positives (differences), ``mark`` follows
        the value, ``bold`` wraps the value in markdown ``**``."""
        spec = f"+.{digits}f" if signed else f".{digits}f"
        value = f"**{self.value:{spec}}**" if bold else f"{self.value:{spec}}"
        return f"{value}{mark} [{self.low:{spec}}, {self.high:{spec}}]"


def resample_indices(n: int, n_boot: int = 1000, seed: int = 0, strata: Sequence | None = None) -> np.ndarray:
    """[n_boot, n] indices drawn with replacement; within each stratum if ``strata`` is given.

    Stratified resampling keeps class sizes fixed, which keeps class-balanced statistics
    (per-class recall, balanced accuracy) plain means of per-item values.
    """
    if n < 1:
        raise ValueError("cannot bootstrap an empty sample")
    rng = np.random.default_rng(seed)
    if strata is None:
        return rng.integers(0, n, size=(n_boot, n))
    strata = np.asarray(strata)
    if len(strata) != n:
        raise ValueError(f"strata has {len(strata)} entries for {n} items")
    idx = np.empty((n_boot, n), dtype=np.int64)
    for value in np.unique(strata):
        members = np.flatnonzero(strata == value)
        idx[:, members] = members[rng.integers(0, len(members), size=(n_boot, len(members)))]
    return idx


def _reduce(values: np.ndarray, reducer: str, axis: int | None = None) -> np.ndarray:
    try:
        return REDUCERS[reducer](values, axis=axis)
    except KeyError:
        raise ValueError(f"unknown reducer {reducer!r}; expected one of {sorted(REDUCERS)}") from None


def bootstrap(
    columns: Mapping[str, np.ndarray],
    reducers: Mapping[str, str],
    indices: np.ndarray,
    confidence: float = 0.95,
) -> dict[str, Estimate]:
    """Estimate of ``reducer(column)`` for every column, with a percentile interval."""
    return _estimates(columns, reducers, indices, confidence, baseline=None)


def bootstrap_difference(
    columns: Mapping[str, np.ndarray],
    baseline: Mapping[str, np.ndarray],
    reducers: Mapping[str, str],
    indices: np.ndarray,
    confidence: float = 0.95,
) -> dict[str, Estimate]:
    """Paired estimate of ``reducer(column) - reducer(baseline column)`` on the same resamples."""
    return _estimates(columns, reducers, indices, confidence, baseline=baseline)


def _estimates(columns, reducers, indices, confidence, baseline) -> dict[str, Estimate]:
    if not 0 < confidence < 1:
        raise UserError(f"confidence must lie in (0, 1), got {confidence}")
    tail = 100 * (1 - confidence) / 2
    out = {}
    for name, values in columns.items():
        values = np.asarray(values, dtype=np.float64)
        if values.shape != (indices.shape[1],):
            raise ValueError(
                f"column {name!r} has {values.shape} values for {indices.shape[1]} resampled items"
            )
        reducer = reducers.get(name, "mean")
        point, samples = _reduce(values, reducer), _reduce(values[indices], reducer, axis=1)
        if baseline is not None:
            base = np.asarray(baseline[name], dtype=np.float64)
            point, samples = point - _reduce(base, reducer), samples - _reduce(base[indices], reducer, axis=1)
        low, high = np.percentile(samples, [tail, 100 - tail])
        out[name] = Estimate(float(point), float(low), float(high), int(indices.shape[1]))
    return out
