"""Summaries of a saved dataset: counts per split, source and class, and example records."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from hubbleclip.errors import UserError


def load_dataset_dict(
    path: str | Path,
    required_columns: tuple[str, ...] = (),
    hint: str = "build one with `hubbleclip data build`",
):
    """Load a DatasetDict saved with save_to_disk, with a clear error when it is not one or a
    split lacks one of ``required_columns``."""
    import datasets

    path = Path(path)
    if not (path / "dataset_dict.json").is_file():
        raise FileNotFoundError(f"{path}: not a saved dataset (no dataset_dict.json); {hint}")
    dd = datasets.load_from_disk(str(path))
    for split, ds in dd.items():
        missing = sorted(set(required_columns) - set(ds.column_names))
        if missing:
            raise UserError(f"{path} split {split}: missing column(s) {missing}")
    return dd


def summarize(path: str | Path, examples: int = 3) -> dict:
    dd = load_dataset_dict(path)
    out: dict = {"path": str(path), "splits": {}, "examples": []}
    for split, ds in dd.items():
        cols = ds.select_columns(["source", "type", "object_id"]).to_dict()
        has_image = [
            im is not None
            for im in ds.select_columns(["image"]).cast_column("image", _raw_image()).to_dict()["image"]
        ]
        out["splits"][split] = {
            "rows": len(ds),
            "objects": len(set(cols["object_id"])),
            "images": sum(has_image),
            "by_source": dict(Counter(cols["source"])),
            "by_type": dict(Counter(cols["type"]).most_common()),
        }
    train = dd["train"] if "train" in dd else next(iter(dd.values()))
    sources = train.unique("source")
    for src in sources:
        idx = train["source"].index(src)
        row = train.select([idx]).remove_columns("image")[0]
        out["examples"].append(
            {
                k: row[k]
                for k in (
                    "id",
                    "source",
                    "object_id",
                    "names",
                    "type",
                    "ra_deg",
                    "dec_deg",
                    "mag",
                    "caption",
                    "credit",
                )
            }
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


def _raw_image():
    import datasets

    return datasets.Image(decode=False)
