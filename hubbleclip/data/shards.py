"""Reading WebDataset shards: brace patterns, sample counts, records, and a split as a Dataset.

A sample holds an image (``png``/``jpg``/``jpeg``/``webp``), a ``txt`` caption and optionally a
``json`` with more fields, the layout open_clip, img2dataset and clip-retrieval share.  As a
record, a sample is its ``json`` fields plus the caption under the column it was exported from
(``export.json`` next to the shards says which; ``caption`` for shards from elsewhere), so the
caption rule of :mod:`hubbleclip.data.load` applies to shards as it does to a saved dataset.

Unreadable data (a truncated or corrupt shard) is skipped with a warning naming the shard; it
never stops a job.  Everything that touches tar files goes through the ``webdataset`` library.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterator
from pathlib import Path

import datasets

from hubbleclip.errors import UserError

log = logging.getLogger(__name__)

SIZES_FILE = "sizes.json"  # samples per shard, open_clip_train's convention
MANIFEST_FILE = "export.json"  # how hubbleclip wrote the shards of one directory
IMAGE_EXTENSIONS = ("png", "jpg", "jpeg", "webp")
DEFAULT_TXT_COLUMN = "caption"


def expand_shards(pattern: str) -> list[str]:
    """The shard paths of a brace pattern (``DIR/{00000..00009}.tar``; several joined by ``::``), as
    open_clip expands them; every one must exist."""
    import webdataset as wds

    urls = wds.shardlists.expand_urls(pattern)
    missing = [u for u in urls if not Path(u).is_file()]
    if not urls or missing:
        raise FileNotFoundError(
            f"webdataset {pattern!r}: {len(missing)} of {len(urls)} shards do not exist"
            + (f", e.g. {missing[0]}" if missing else "")
            + "; write shards with `hubbleclip data export --format webdataset`"
        )
    return urls


def report_and_continue(exn: Exception) -> bool:
    """webdataset error handler: log the unreadable shard (webdataset appends its url to the
    exception's args) and go on with the next one."""
    url = next((a for a in reversed(exn.args) if isinstance(a, str) and a.endswith(".tar")), "?")
    log.warning("webdataset: skipping unreadable data in %s (%s: %s)", url, type(exn).__name__, exn.args[0])
    return True


def raw_samples(urls: list[str]) -> Iterator[dict]:
    """Every sample of ``urls`` in order, undecoded (``__key__``, ``__url__`` and bytes per extension)."""
    import webdataset as wds

    yield from wds.DataPipeline(
        wds.SimpleShardList(urls), wds.tarfile_to_samples(handler=report_and_continue)
    )


def manifest(directory: str | Path) -> dict:
    """``export.json`` of a shard directory ({} for shards hubbleclip did not write)."""
    path = Path(directory) / MANIFEST_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


def shard_sizes(urls: list[str]) -> list[int]:
    """Samples per shard: from ``sizes.json`` beside the shards, else counted by reading them (logged)."""
    known: dict[str, int] = {}
    for directory in dict.fromkeys(str(Path(u).parent) for u in urls):
        sizes = Path(directory) / SIZES_FILE
        if sizes.is_file():
            known.update({str(Path(directory) / k): int(v) for k, v in json.loads(sizes.read_text()).items()})
    missing = [u for u in urls if str(Path(u)) not in known]
    if missing:
        log.warning(
            "webdataset: no %s entry for %d shards (e.g. %s): counting their samples by reading them",
            SIZES_FILE,
            len(missing),
            missing[0],
        )
        for url in missing:
            known[str(Path(url))] = sum(1 for _ in raw_samples([url]))
    return [known[str(Path(u))] for u in urls]


def image_bytes(sample: dict) -> tuple[str, bytes] | None:
    """The (extension, encoded bytes) of a sample's image, or None when it has none."""
    return next(((ext, sample[ext]) for ext in IMAGE_EXTENSIONS if ext in sample), None)


def record(sample: dict, txt_column: str) -> dict:
    """The fields of a sample: its json, and its txt caption under ``txt_column``."""
    fields = json.loads(sample["json"]) if "json" in sample else {}
    if not isinstance(fields, dict):
        raise UserError(f"{sample.get('__url__')}: sample {sample.get('__key__')}: json is not an object")
    if "txt" in sample:
        fields[txt_column] = sample["txt"].decode("utf-8")
    return fields


def txt_column_of(urls: list[str]) -> str:
    """The column the shards' txt captions came from (one per pattern: the shards' export.json)."""
    columns = {manifest(Path(u).parent).get("txt_column", DEFAULT_TXT_COLUMN) for u in urls}
    if len(columns) > 1:
        raise UserError(f"webdataset shards mix txt columns {sorted(columns)}: export them with one rule")
    return columns.pop()


def _clean(value):
    # NaN is not JSON: exported as null, read back as NaN only where the column is numeric
    return None if isinstance(value, float) and math.isnan(value) else value


def shards_to_dataset(pattern: str) -> datasets.Dataset:
    """The samples of ``pattern`` that have an image, as a Dataset with an ``image`` column (the
    encoded bytes as they are stored) and the record fields: what validation and evaluation read."""
    urls = expand_shards(pattern)
    txt_column = txt_column_of(urls)
    rows, skipped = [], 0
    for sample in raw_samples(urls):
        image = image_bytes(sample)
        if image is None:
            skipped += 1
            continue
        rows.append({"image": {"bytes": image[1], "path": None}, **record(sample, txt_column)})
    if skipped:
        log.warning("webdataset %s: %d samples without an image were left out", pattern, skipped)
    if not rows:
        raise UserError(f"webdataset {pattern!r}: no readable sample with an image")
    columns = list(dict.fromkeys(k for row in rows for k in row))
    data = {c: [_clean(row.get(c)) for row in rows] for c in columns}
    ds = datasets.Dataset.from_dict(data)
    return ds.cast_column("image", datasets.Image())
