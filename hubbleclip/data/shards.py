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
import re
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


_reported: set[tuple[str, str]] = set()
_STREAM_NAME = re.compile(r"name='([^']+)'")


def report_and_continue(exn: Exception) -> bool:
    """webdataset error handler: warn once per shard and error kind, and go on with the next shard.
    webdataset names the shard in the exception: its url or open file in the args, or the file in
    the message ("... @ <_io.BufferedReader name='...'>")."""
    names = [a if isinstance(a, str) else getattr(a, "name", "") for a in exn.args]
    names += _STREAM_NAME.findall(str(exn.args[0])) if exn.args else []
    url = next((n for n in reversed(names) if isinstance(n, str) and n.endswith(".tar")), "a shard")
    if (url, type(exn).__name__) not in _reported:
        _reported.add((url, type(exn).__name__))
        message = str(exn.args[0]).split(" @ ")[0] if exn.args else ""
        log.warning("webdataset: skipping unreadable data in %s (%s: %s)", url, type(exn).__name__, message)
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


def _features(urls: list[str], columns: list[str]) -> datasets.Features | None:
    """The column types the export recorded (None for shards from elsewhere: inferred)."""
    recorded = manifest(Path(urls[0]).parent).get("features")
    if not recorded:
        return None
    features = datasets.Features.from_dict(recorded)
    return datasets.Features({c: features[c] for c in columns}) if set(columns) <= set(features) else None


def _is_float(feature) -> bool:
    return isinstance(feature, datasets.Value) and feature.dtype.startswith("float")


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
    features = _features(urls, columns)
    data = {c: [row.get(c) for row in rows] for c in columns}
    for c in columns if features else []:
        if _is_float(features[c]):  # JSON has no NaN: the export wrote null
            data[c] = [math.nan if v is None else v for v in data[c]]
    if features is None:
        return datasets.Dataset.from_dict(data).cast_column("image", datasets.Image())
    return datasets.Dataset.from_dict(data, features=features)
