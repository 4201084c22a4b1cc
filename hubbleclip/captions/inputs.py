"""Texts to caption and where the captions go: a saved DatasetDict, or a CSV/JSONL of ``id,text``."""

from __future__ import annotations

import csv
import io
import json
import logging
import shutil
from pathlib import Path
from typing import Any

from hubbleclip.data import load as saved
from hubbleclip.errors import UserError
from hubbleclip.io import atomic_directory, atomic_write_json, atomic_write_text

log = logging.getLogger(__name__)

COLUMN = "caption_llm"
TABLE_SUFFIXES = (".csv", ".jsonl")


def is_table(path: str | Path) -> bool:
    return Path(path).suffix.lower() in TABLE_SUFFIXES


def default_output(path: str | Path) -> Path:
    """A dataset is updated in place; a table gets a sibling ``NAME.captions.EXT``."""
    path = Path(path)
    return path.with_name(f"{path.stem}.captions{path.suffix}") if is_table(path) else path


# --- plain tables -------------------------------------------------------------------------------


def read_table(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a CSV (header with id,text) or JSONL (objects with id and text)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist")
    if path.suffix.lower() == ".csv":
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    else:
        rows = []
        with open(path, encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if line.strip():
                    try:
                        rows.append(json.loads(line))
                    except json.JSONDecodeError as exc:
                        raise UserError(f"{path}:{n}: not a JSON object ({exc.msg})") from exc
    for n, row in enumerate(rows, 1):
        if (
            not isinstance(row, dict)
            or not isinstance(row.get("id"), (str, int))
            or not isinstance(row.get("text"), str)
        ):
            raise UserError(f"{path}: row {n} needs an 'id' and a string 'text' field, got {str(row)[:80]!r}")
    return rows


def write_table(path: str | Path, rows: list[dict[str, Any]]) -> Path:
    path = Path(path)
    if path.suffix.lower() == ".csv":
        buf = io.StringIO()
        fields = list(dict.fromkeys(k for row in rows for k in row))
        writer = csv.DictWriter(buf, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
        return atomic_write_text(path, buf.getvalue())
    return atomic_write_text(path, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))


# --- datasets -----------------------------------------------------------------------------------


def load_dataset_dict(path: str | Path):
    return saved.load_dataset_dict(
        path,
        ("text", "caption"),
        hint="build one with `hubbleclip data build` or pass a .csv/.jsonl of id,text",
    )


def _texts_by_image(dd) -> tuple[list[str], list[str]]:
    import pyarrow.compute as pc

    imaged, rest = [], []
    for ds in dd.values():
        has_image = (
            pc.is_valid(ds.data.column("image")).to_pylist()
            if "image" in ds.column_names
            else [False] * len(ds)
        )
        for text, img in zip(ds["text"], has_image):
            (imaged if img else rest).append(text)
    return imaged, rest


def dataset_texts(dd) -> list[str]:
    """Distinct texts, those of rows with an image first (they are what training uses)."""
    imaged, rest = _texts_by_image(dd)
    return list(dict.fromkeys(imaged + rest))


def imaged_texts(dd) -> list[str]:
    """Distinct texts of the rows that have an image, in dataset order."""
    return list(dict.fromkeys(_texts_by_image(dd)[0]))


def write_dataset(
    dd, out: str | Path, captions: dict[str, str], report: dict[str, Any], src: str | Path
) -> Path:
    """Save ``dd`` with a ``caption_llm`` column (the template caption where there is no LLM one),
    atomically; other files of the source directory (e.g. build_report.json) are kept."""
    out, src = Path(out), Path(src)
    updated = {}
    for split, ds in dd.items():
        values = [captions.get(t) or c for t, c in zip(ds["text"], ds["caption"])]
        if COLUMN in ds.column_names:
            ds = ds.remove_columns(COLUMN)
        updated[split] = ds.add_column(COLUMN, values)
    import datasets

    with atomic_directory(out, overwrite=True) as tmp:
        datasets.DatasetDict(updated).save_to_disk(str(tmp))
        for extra in src.iterdir():
            if extra.is_file() and not (tmp / extra.name).exists():
                shutil.copy2(extra, tmp / extra.name)
        atomic_write_json(tmp / "captions_report.json", report)
    return out
