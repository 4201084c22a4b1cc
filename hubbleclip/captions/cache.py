"""Append-only JSONL cache of caption results keyed by (model, prompt version, text hash).

Each finished text is one flushed line, so a crash loses at most the batch in flight and a
rerun resumes where it stopped.  A torn last line (killed mid-write) is ignored on reading.
By default a dataset's cache lives under ``cache_root("captions")`` (:func:`default_cache`), with
every other cache of the package, never next to the data.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

from hubbleclip.captions.inputs import is_table
from hubbleclip.io import cache_root

log = logging.getLogger(__name__)


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def default_cache(dataset: str | Path) -> Path:
    """``cache_root("captions")/NAME-DIGEST.jsonl`` for a dataset or table, DIGEST naming its resolved
    path, so two datasets called alike never share a file.  A table's output (``NAME.captions.EXT``)
    maps to its input's file, so checking an output finds the cache its generation used."""
    path = Path(dataset)
    if is_table(path) and path.stem.endswith(".captions"):
        path = path.with_name(path.stem.removesuffix(".captions") + path.suffix)
    digest = hashlib.sha256(str(path.resolve()).encode("utf-8")).hexdigest()[:16]
    return cache_root("captions", f"{path.stem if is_table(path) else path.name}-{digest}.jsonl")


def cache_key(model: str, prompt_version: str, text: str) -> str:
    return f"{model}|{prompt_version}|{text_hash(text)}"


class CaptionCache:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.entries: dict[str, dict[str, Any]] = {}
        if self.path.exists():
            self._read()

    def _read(self) -> None:
        torn = 0
        with open(self.path, encoding="utf-8") as fh:
            for line in fh:
                try:
                    record = json.loads(line)
                    self.entries[record["key"]] = record  # later lines win (a retried failure)
                except (json.JSONDecodeError, KeyError, TypeError):
                    torn += 1
        if torn:
            log.warning("%s: ignored %d unreadable line(s) (an interrupted write)", self.path, torn)

    def get(self, key: str) -> dict[str, Any] | None:
        return self.entries.get(key)

    def put(self, record: dict[str, Any]) -> None:
        self.put_many([record])

    def put_many(self, records: list[dict[str, Any]]) -> None:
        """Append records in one write and one fsync (seeding from the shipped captions)."""
        if not records:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lines = "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
        with open(self.path, "a", encoding="utf-8") as fh:
            if fh.tell() and not self._ends_with_newline():
                fh.write("\n")  # do not glue a new record onto a torn line
            fh.write(lines)
            fh.flush()
            os.fsync(fh.fileno())
        for record in records:
            self.entries[record["key"]] = record

    def _ends_with_newline(self) -> bool:
        with open(self.path, "rb") as fh:
            fh.seek(-1, os.SEEK_END)
            return fh.read(1) == b"\n"

    def __len__(self) -> int:
        return len(self.entries)
