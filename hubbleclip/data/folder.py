"""Your own images with captions: a folder of images and a CSV that names them.

The CSV needs two columns, ``file`` (a path relative to the image folder) and ``caption``.
Optional columns fill the rest of the record format: ``text`` (a longer description; default:
the caption), ``object_id`` (images of one object stay in one split; default: the file),
``type``, ``names`` (separated by ``|``), ``ra_deg``, ``dec_deg``, ``mag`` and ``credit``, and the
access columns ``release_date`` (``YYYY-MM-DD``, UTC: the row stays private until that day; empty =
public) and ``program_id`` (the proposal/program an access token may name).
Any problem is an error naming the CSV line and column; nothing is written until all rows pass.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import time
from pathlib import Path
from typing import Any

from hubbleclip.data.build import IMAGE_ERRORS, encode_image, save_skyset
from hubbleclip.data.config import FolderConfig
from hubbleclip.errors import UserError

REQUIRED = ("file", "caption")
OPTIONAL = (
    "text",
    "object_id",
    "type",
    "names",
    "ra_deg",
    "dec_deg",
    "mag",
    "credit",
    "release_date",
    "program_id",
)
NUMERIC = ("ra_deg", "dec_deg", "mag")


def _number(value: str, where: str) -> float:
    if not value.strip():
        return math.nan
    try:
        return float(value)
    except ValueError:
        raise UserError(f"{where}: {value!r} is not a number") from None


def _date(value: str, where: str) -> dt.date | None:
    if not value.strip():
        return None
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise UserError(f"{where}: {value!r} is not a date (expected YYYY-MM-DD)") from None


def read_rows(cfg: FolderConfig) -> list[dict[str, Any]]:
    """Records for every CSV line, images encoded like the skyset's."""
    if not cfg.images:
        raise UserError("folder: set images=DIR (a folder of images) and captions=FILE.csv")
    folder = Path(cfg.images).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(f"folder: image folder {folder} does not exist")
    table = Path(cfg.captions).expanduser() if cfg.captions else folder / "captions.csv"
    if not table.is_file():
        raise FileNotFoundError(
            f"folder: caption table {table} does not exist (a CSV with columns file,caption)"
        )
    with table.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        header = reader.fieldnames or []
        missing = [c for c in REQUIRED if c not in header]
        if missing:
            raise UserError(
                f"{table}: missing column(s) {missing}; the header is {header}, "
                f"expected {list(REQUIRED)} plus any of {list(OPTIONAL)}"
            )
        lines = list(reader)
    rows, seen = [], {}
    for line_no, line in enumerate(lines, start=2):  # line 1 is the header
        where = f"{table} line {line_no}"
        name, caption = (line.get("file") or "").strip(), " ".join((line.get("caption") or "").split())
        if not name or not caption:
            raise UserError(f"{where}: empty {'file' if not name else 'caption'}")
        if name in seen:
            raise UserError(f"{where}: file {name!r} is listed twice (first on line {seen[name]})")
        seen[name] = line_no
        path = folder / name
        if not path.is_file():
            raise FileNotFoundError(f"{where}: image {path} does not exist")
        try:
            image = encode_image(path, cfg.max_image_size)
        except IMAGE_ERRORS as exc:
            raise UserError(
                f"{where}: {path} is not a readable image ({type(exc).__name__}: {exc})"
            ) from None
        names = [n.strip() for n in (line.get("names") or "").split("|") if n.strip()]
        rows.append(
            {
                "id": f"folder:{name}",
                "source": "folder",
                "image": {"bytes": image, "path": None},
                "object_id": (line.get("object_id") or "").strip() or name,
                "names": names,
                "type": (line.get("type") or "").strip() or "unknown",
                **{c: _number(line.get(c) or "", f"{where}, column {c}") for c in NUMERIC},
                "text": " ".join((line.get("text") or "").split()) or caption,
                "caption": caption,
                "credit": (line.get("credit") or "").strip() or cfg.credit,
                "release_date": _date(line.get("release_date") or "", f"{where}, column release_date"),
                "program_id": (line.get("program_id") or "").strip() or None,
            }
        )
    if not rows:
        raise UserError(f"{table}: no rows below the header")
    return rows


def build(cfg: FolderConfig, out_dir: Path, overwrite: bool = False) -> dict[str, Any]:
    started = time.time()
    rows = read_rows(cfg)
    report = {"source": "folder", "images_dir": str(cfg.images), "timings_s": {}}
    report.update(save_skyset(rows, out_dir, report, seed=cfg.seed, overwrite=overwrite, config=cfg))
    report["timings_s"]["total"] = round(time.time() - started, 2)
    return report
