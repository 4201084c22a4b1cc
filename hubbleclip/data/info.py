"""Summaries of a saved dataset: counts per split, source and class, and example records."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np

from hubbleclip.access.policy import ANONYMOUS, AccessPolicy, AccessTable
from hubbleclip.data.load import has_image, load_dataset_dict
from hubbleclip.data.schema import COLUMNS


def visible_rows(ds, viewer, policy=None):
    """The rows of one split that ``viewer`` may see today (all of them without access columns)."""
    if "release_date" not in ds.column_names:
        return ds
    cols = ds.select_columns([c for c in ("release_date", "program_id") if c in ds.column_names]).to_dict()
    table = AccessTable.from_rows(cols["release_date"], cols.get("program_id", [None] * len(ds)))
    mask = (policy or AccessPolicy()).visible(table, viewer)
    return ds if mask.all() else ds.select(np.flatnonzero(mask))


def summarize(path: str | Path, examples: int = 3, viewer=None, policy=None) -> dict:
    """Counts and example records of the rows ``viewer`` may see (default: anonymous, public rows)."""
    dd = load_dataset_dict(path)
    dd = {split: visible_rows(ds, viewer or ANONYMOUS, policy) for split, ds in dd.items()}
    out: dict = {"path": str(path), "splits": {}, "examples": []}
    for split, ds in dd.items():
        cols = ds.select_columns(["source", "type", "object_id"]).to_dict()
        out["splits"][split] = {
            "rows": len(ds),
            "objects": len(set(cols["object_id"])),
            "images": int(has_image(ds).sum()),
            "by_source": dict(Counter(cols["source"])),
            "by_type": dict(Counter(cols["type"]).most_common()),
        }
    train = dd["train"] if "train" in dd else next(iter(dd.values()))
    sources = train.unique("source")
    for src in sources:
        idx = train["source"].index(src)
        row = train.select([idx]).remove_columns("image")[0]
        out["examples"].append(
            {k: row[k] for k in COLUMNS if k in row and k not in ("image", "text")}
            | {"text": row["text"][:300]}
        )
        if len(out["examples"]) >= examples * len(sources):
            break
    report = Path(path) / "build_report.json"
    if report.is_file():
        rep = json.loads(report.read_text())
        out["skipped_images"] = len(rep.get("skipped_images", []))
        out["missing_sources"] = rep.get("missing_sources", {})
    return out
