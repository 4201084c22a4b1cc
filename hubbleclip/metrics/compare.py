"""Compare systems on the same units: one resample of unit indices serves every system, so every
interval is on the same draws and each difference to the reference is paired."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from hubbleclip.errors import UserError

# renamed: in compare_systems the name ``bootstrap`` is the settings
from hubbleclip.metrics.bootstrap import Estimate, bootstrap_difference, resample_indices
from hubbleclip.metrics.bootstrap import bootstrap as bootstrap_columns
from hubbleclip.metrics.config import BootstrapConfig


def _estimates_to_dict(table: Mapping[str, Mapping[str, Estimate]]) -> dict:
    return {system: {m: e.to_dict() for m, e in per.items()} for system, per in table.items()}


def _estimates_from_dict(table: Mapping[str, Mapping[str, Mapping]]) -> dict[str, dict[str, Estimate]]:
    return {system: {m: Estimate.from_dict(e) for m, e in per.items()} for system, per in table.items()}


@dataclass(frozen=True)
class Comparison:
    """Bootstrap estimates of every system's metrics and paired differences to ``reference``."""

    reference: str
    n: int  # units (queries, images) every system was measured on
    estimates: dict[str, dict[str, Estimate]]  # system -> metric -> estimate
    differences: dict[str, dict[str, Estimate]]  # system != reference -> metric -> system - reference

    @property
    def systems(self) -> list[str]:
        return list(self.estimates)

    def to_dict(self) -> dict:
        return {
            "reference": self.reference,
            "n": self.n,
            "estimates": _estimates_to_dict(self.estimates),
            "differences": _estimates_to_dict(self.differences),
        }

    @classmethod
    def from_dict(cls, d: Mapping) -> Comparison:
        try:
            return cls(
                str(d["reference"]),
                int(d["n"]),
                _estimates_from_dict(d["estimates"]),
                _estimates_from_dict(d["differences"]),
            )
        except KeyError as e:
            raise UserError(f"comparison: missing field {e.args[0]!r}") from None


def compare_systems(
    per_unit: Mapping[str, Mapping[str, np.ndarray]],
    *,
    bootstrap: BootstrapConfig,
    reducers: Mapping[str, str] | None = None,
    reference: str | None = None,
    strata: Sequence | None = None,
    indices: np.ndarray | None = None,
) -> Comparison:
    """Estimates of ``reducer(column)`` (mean unless ``reducers`` says ``median``) for every system's
    per-unit columns (``per_unit[system][metric]``, one value per unit, units aligned across systems),
    all on the same resamples, and paired differences of every other system to ``reference``
    (default: the first system).

    The resamples are ``indices`` [samples, n] when given (to share them with another comparison),
    else drawn from ``bootstrap.seed``, within each stratum of ``strata`` if given.
    """
    if not per_unit:
        raise UserError("compare_systems: no systems to compare")
    reference = next(iter(per_unit)) if reference is None else reference
    if reference not in per_unit:
        raise UserError(f"compare_systems: reference {reference!r} is not one of {list(per_unit)}")
    lengths = {name: {len(c) for c in cols.values()} for name, cols in per_unit.items()}
    n_units = set().union(*lengths.values())
    if len(n_units) != 1:
        raise UserError(f"compare_systems: columns differ in length across systems/metrics: {lengths}")
    n = n_units.pop()
    if indices is None:
        indices = resample_indices(n, bootstrap.samples, bootstrap.seed, strata=strata)
    reducers = reducers or {}
    estimates = {
        name: bootstrap_columns(cols, reducers, indices, bootstrap.confidence)
        for name, cols in per_unit.items()
    }
    differences = {
        name: bootstrap_difference(cols, per_unit[reference], reducers, indices, bootstrap.confidence)
        for name, cols in per_unit.items()
        if name != reference
    }
    return Comparison(reference, n, estimates, differences)
