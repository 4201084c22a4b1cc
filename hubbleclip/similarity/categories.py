"""Category restriction: only let images of compatible classes be neighbours.

A compatibility table maps a class label (the record's ``type``) to the labels it may match;
it is made symmetric and every label matches itself.  Labels missing from the table match only
themselves.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml

from hubbleclip.errors import UserError
from hubbleclip.similarity.neighbours import Restriction

# broad morphological families of the skyset's labels
DEFAULT_TABLE: dict[str, list[str]] = {
    "galaxy": [
        "elliptical galaxy",
        "lenticular galaxy",
        "spiral galaxy",
        "barred spiral galaxy",
        "irregular galaxy",
        "galaxy pair",
        "galaxy triplet",
        "galaxy group",
    ],
    "nebula": [
        "emission nebula",
        "reflection nebula",
        "HII region",
        "planetary nebula",
        "supernova remnant",
        "dark nebula",
        "star cluster with nebula",
    ],
    "open cluster": ["stellar association", "star cluster with nebula"],
    "FRI radio galaxy": ["bent-tail radio galaxy"],
    "FRII radio galaxy": ["FRI radio galaxy"],
}


def load_table(path: str | Path | None) -> dict[str, list[str]]:
    """The table from a YAML file ``{label: [compatible labels]}``, or the default."""
    if path is None:
        return DEFAULT_TABLE
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"compatibility table {path} does not exist")
    table = yaml.safe_load(path.read_text())
    if not isinstance(table, dict) or not all(isinstance(v, list) for v in table.values()):
        raise UserError(f"{path}: expected a mapping from a class label to a list of compatible labels")
    return {str(k): [str(v) for v in vals] for k, vals in table.items()}


def build_restriction(types: list[str], table: dict[str, list[str]]) -> tuple[Restriction, dict[str, int]]:
    """The restriction for a database whose rows have class ``types``, and the group id of each label."""
    labels = sorted(set(types) | set(table) | {v for vals in table.values() for v in vals})
    group = {label: i for i, label in enumerate(labels)}
    allowed = np.eye(len(labels), dtype=bool)
    for a, vals in table.items():
        for b in vals:
            allowed[group[a], group[b]] = allowed[group[b], group[a]] = True
    return Restriction(np.array([group[t] for t in types], np.int64), allowed), group
