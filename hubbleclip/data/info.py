"""Summaries of a saved dataset: counts per split, source and class, and example records."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from hubbleclip.data.load import has_image, load_dataset_dict
from hubbleclip.data.schema import COLUMNS


def summarize(path: str | Path, examples: int = 3) -> dict:
    dd = load_dataset_dict(path)
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
            {k: row[k] for k in COLUMNS if k not in ("image", "text")} | {"text": row["text"][:300]}
        )
        if len(out["examples"]) >= examples * len(sources):
            break
    report = Path(path) / "build_report.json"
    if report.is_file():
        rep = json.loads(report.read_text())
        out["skipped_images"] = len(rep.get("skipped_images", []))
        out["missing_sources"] = rep.get("missing_sources", {})
    return out
