"""Export a saved dataset for other tools: WebDataset tar shards, or open_clip_train's CSV.

WebDataset (``OUT/SPLIT/``): ``00000.tar``, ``00001.tar``, ... of ``shard_size`` samples each, in
the split's order of imaged rows.  A sample is ``KEY.png`` or ``KEY.jpg`` (the image bytes as the
dataset stores them), ``KEY.txt`` (the caption, by the caption rule of :mod:`hubbleclip.data.load`)
and ``KEY.json`` (every other column).  ``export.json`` (the settings, written first) and
``sizes.json`` (samples per shard, which open_clip_train reads too; written last) sit beside them.
Each shard is written under a temporary name and renamed when complete, so an interrupted export
leaves only whole shards, and running the same command again writes only the missing ones.

CSV (``OUT/SPLIT.csv`` and ``OUT/SPLIT/images/``): tab-separated ``filepath``/``title`` columns,
the layout of ``open_clip_train --dataset-type csv --csv-img-key filepath --csv-caption-key title``.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import os
import shutil
from pathlib import Path

import datasets
from PIL import Image

from hubbleclip.data.config import ExportConfig
from hubbleclip.data.load import caption_column, encoded_images, imaged_rows, load_dataset_dict
from hubbleclip.data.shards import MANIFEST_FILE, SIZES_FILE, manifest
from hubbleclip.errors import UserError
from hubbleclip.io import atomic_directory, atomic_write_json, atomic_write_text

log = logging.getLogger(__name__)
SHARD_MTIME = 0.0  # fixed member times: the same samples give byte-identical shards (checksums, resume)

FORMAT_VERSION = 1
PARTIAL = ".partial"
PIL_EXTENSIONS = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp"}
CSV_CHUNK = 1000


def shard_name(index: int) -> str:
    return f"{index:05d}.tar"


def encoded_image(entry: dict) -> tuple[str, bytes]:
    """(extension, bytes) of a stored image; formats WebDataset readers do not know become PNG."""
    data = entry.get("bytes") or Path(entry["path"]).read_bytes()
    with Image.open(io.BytesIO(data)) as img:
        ext = PIL_EXTENSIONS.get(img.format or "")
        if ext:
            return ext, data
        buf = io.BytesIO()
        img.save(buf, format="PNG")
    return "png", buf.getvalue()


def _json_value(value):
    return None if isinstance(value, float) and math.isnan(value) else value


def _imaged(ds: datasets.Dataset, captions: str) -> tuple[datasets.Dataset, str]:
    """The rows that have an image, and the caption column."""
    return ds.select(imaged_rows(ds)), caption_column(ds.column_names, captions, field="captions")


def _split_settings(cfg: ExportConfig, ds: datasets.Dataset, split: str, txt_column: str, n: int) -> dict:
    return {
        "format_version": FORMAT_VERSION,
        "source": str(Path(cfg.dataset).resolve()),
        "source_fingerprint": getattr(ds, "_fingerprint", ""),
        "split": split,
        "txt_column": txt_column,
        "features": ds.features.to_dict(),  # column types, for reading the shards back as a Dataset
        "shard_size": cfg.shard_size,
        "samples": n,
        "shards": math.ceil(n / cfg.shard_size),
    }


def _prepare_split_dir(directory: Path, settings: dict, overwrite: bool) -> None:
    """Start (or resume) a split directory: the same settings resume, others need ``overwrite``."""
    if overwrite:
        shutil.rmtree(directory, ignore_errors=True)
    old = manifest(directory)
    if old and old != settings:
        changed = sorted(k for k in settings if old.get(k) != settings[k])
        raise FileExistsError(
            f"{directory} holds an export with other settings ({', '.join(changed)}): "
            "pass --overwrite to write it again"
        )
    # a kill during the manifest's atomic write leaves only a hidden temp file: not someone else's files
    if directory.exists() and not old and any(not p.name.startswith(".") for p in directory.iterdir()):
        raise FileExistsError(
            f"{directory} exists and is not a hubbleclip export: pass --overwrite to replace it"
        )
    directory.mkdir(parents=True, exist_ok=True)
    for leftover in directory.glob(f".*{PARTIAL}"):  # a shard an interrupted export was writing
        leftover.unlink()
    if not old:
        atomic_write_json(directory / MANIFEST_FILE, settings)


def _write_shard(path: Path, samples: list[dict]) -> None:
    import webdataset as wds

    tmp = path.with_name(f".{path.name}.{os.getpid()}{PARTIAL}")
    try:
        with open(tmp, "wb") as fh:
            writer = wds.TarWriter(fh, mtime=SHARD_MTIME)
            for sample in samples:
                writer.write(sample)
            writer.close()
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def export_webdataset_split(
    cfg: ExportConfig, ds: datasets.Dataset, split: str, overwrite: bool = False
) -> dict:
    """Write (or finish) the shards of one split; returns what it wrote."""
    if cfg.shard_size < 1:
        raise UserError(f"shard_size={cfg.shard_size}: expected at least 1 sample per shard")
    imaged, txt_column = _imaged(ds, cfg.captions)
    directory = Path(cfg.out) / split
    settings = _split_settings(cfg, ds, split, txt_column, len(imaged))
    _prepare_split_dir(directory, settings, overwrite)
    fields = [c for c in imaged.column_names if c not in ("image", txt_column)]
    sizes, written = {}, 0
    for index in range(settings["shards"]):
        start, stop = index * cfg.shard_size, min(len(imaged), (index + 1) * cfg.shard_size)
        path = directory / shard_name(index)
        sizes[path.name] = stop - start
        if path.is_file():  # finished by an earlier, interrupted run
            continue
        chunk = imaged.select(range(start, stop))
        rows = chunk.select_columns([*fields, txt_column]).to_list()
        samples = []
        for offset, (entry, row) in enumerate(zip(encoded_images(chunk), rows)):
            ext, data = encoded_image(entry)
            samples.append(
                {
                    "__key__": f"{start + offset:08d}",
                    ext: data,
                    "txt": row[txt_column] or "",
                    "json": {f: _json_value(row[f]) for f in fields},
                }
            )
        _write_shard(path, samples)
        written += 1
    atomic_write_json(directory / SIZES_FILE, sizes)
    log.info("%s: %d samples in %d shards (%d written now)", directory, len(imaged), len(sizes), written)
    return {"dir": str(directory), "samples": len(imaged), "shards": len(sizes), "written": written}


def export_csv_split(cfg: ExportConfig, ds: datasets.Dataset, split: str, overwrite: bool = False) -> dict:
    """Write ``OUT/SPLIT/images/`` and ``OUT/SPLIT.csv`` for open_clip_train (rows in dataset order)."""
    imaged, txt_column = _imaged(ds, cfg.captions)
    directory, table = Path(cfg.out) / split, Path(cfg.out) / f"{split}.csv"
    if table.exists() and not overwrite:
        raise FileExistsError(f"{table} already exists: pass --overwrite to write it again")
    paths = []
    with atomic_directory(directory, overwrite=True) as tmp:
        (tmp / "images").mkdir()
        for start in range(0, len(imaged), CSV_CHUNK):  # a chunk of images in memory at a time
            chunk = imaged.select(range(start, min(len(imaged), start + CSV_CHUNK)))
            for i, entry in enumerate(encoded_images(chunk), start):
                ext, data = encoded_image(entry)
                name = f"images/{i:08d}.{ext}"
                (tmp / name).write_bytes(data)
                paths.append(str((directory / name).resolve()))
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter="\t", lineterminator="\n")
    writer.writerow(["filepath", "title"])
    writer.writerows(zip(paths, imaged[txt_column]))
    atomic_write_text(table, buf.getvalue())
    return {"csv": str(table), "samples": len(paths)}


def export_dataset(cfg: ExportConfig, overwrite: bool = False) -> dict:
    """Export the chosen splits of ``cfg.dataset`` in ``cfg.format``; per split what was written."""
    dd = load_dataset_dict(cfg.dataset)
    splits = cfg.splits or list(dd)
    unknown = [s for s in splits if s not in dd]
    if unknown:
        raise UserError(f"{cfg.dataset} has no split(s) {unknown}; it has {sorted(dd)}")
    write = export_webdataset_split if cfg.format == "webdataset" else export_csv_split
    return {split: write(cfg, dd[split], split, overwrite) for split in splits}
