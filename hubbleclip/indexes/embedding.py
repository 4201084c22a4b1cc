"""Embedding a dataset across processes and machines: feature shards, then one merged file.

A job cuts its inputs into numbered shards whose contents do not depend on how many processes run
(``shard_size`` rows of a saved dataset or of a list, or one WebDataset tar each).  Under
``accelerate launch`` process r of w embeds shards r, r+w, r+2w, ... through the one embedding path
(:mod:`hubbleclip.models.embed`), in batches counted from each shard's start, so every vector comes
out of the same batch whatever the number of processes, and N processes give the bytes one gives.

Each shard is one ``.npz`` (``features`` float32 [n, D], ``ids`` int64 [n]) written atomically:
a shard that exists is finished, so a rerun skips it and a killed job leaves no half shard.  After
a barrier the main process merges the shards in id order into ``merged/`` (built aside, renamed
when complete); ``hubbleclip embed --merge_only`` does the same where the shards of several
machines were copied together.  Layout of ``OUT``::

    job.json                          what was asked; a rerun must ask the same (or --overwrite)
    shards/image-00000.npz ...        one per shard and tower
    merged/manifest.json              model, tower namespaces, dim, count, size and sha256 per file
    merged/image.npy, image_ids.npy   float32 [N, D] (memory-map it) and int64 [N]
    merged/text.npy, text_ids.npy     the same for texts

An id is the input's position: its row in the split, its sample number across the tar list, or its
index in a list.  Feature caches are not used: the shards are this job's cache.
"""

from __future__ import annotations

import io
import logging
import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from hubbleclip.data.load import caption_column, encoded_images, imaged_rows, load_split
from hubbleclip.data.shards import expand_shards, image_bytes, raw_samples, shard_sizes
from hubbleclip.errors import UserError
from hubbleclip.indexes.files import FileRecord, record_files
from hubbleclip.io import atomic_directory, atomic_write_bytes, atomic_write_json, read_json
from hubbleclip.models.base import ClipModel
from hubbleclip.models.embed import embed_images, embed_texts
from hubbleclip.models.feature_cache import image_space, text_space
from hubbleclip.models.loader import load_model

log = logging.getLogger(__name__)

TOWERS = ("image", "text")
JOB_FILE = "job.json"
SHARDS_DIR = "shards"
MERGED_DIR = "merged"
MANIFEST_FILE = "manifest.json"
FORMAT = "hubbleclip-embeddings"


class Source(Protocol):
    """Inputs cut into shards that do not depend on the number of processes."""

    description: str  # the inputs and how they are cut, in job.json: another cut must not mix shards

    def count(self, tower: str) -> int: ...  # shards of this tower

    def shard(self, tower: str, k: int) -> tuple[np.ndarray, list]: ...  # (ids int64, inputs)


def _blocks(n: int, size: int) -> int:
    return (n + size - 1) // size


class DatasetSource:
    """The rows of one split of a saved dataset, ``shard_size`` a shard: rows with an image, and rows
    with a non-empty text in ``text_column`` (``auto``: ``caption_llm`` where it exists, else
    ``caption``; None: no texts wanted)."""

    def __init__(self, path: str | Path, split: str, shard_size: int, text_column: str | None = None):
        self.ds = load_split(path, split)
        self.shard_size = shard_size
        self.column = text_column and caption_column(self.ds.column_names, text_column, "--text_column")
        texts = f", texts from column {self.column}" if self.column else ""
        self.description = f"dataset {Path(path).resolve()} split {split}, {shard_size} rows a shard{texts}"
        self._rows: dict[str, np.ndarray] = {}

    def rows(self, tower: str) -> np.ndarray:
        if tower not in self._rows:
            if tower == "image":
                self._rows[tower] = imaged_rows(self.ds)
            else:
                texts = self.ds.select_columns([self.column])[self.column]
                self._rows[tower] = np.flatnonzero([bool(t) for t in texts])
        return self._rows[tower]

    def count(self, tower: str) -> int:
        return _blocks(len(self.rows(tower)), self.shard_size)

    def shard(self, tower: str, k: int) -> tuple[np.ndarray, list]:
        ids = self.rows(tower)[k * self.shard_size : (k + 1) * self.shard_size].astype(np.int64)
        part = self.ds.select(ids)
        return ids, encoded_images(part) if tower == "image" else part[self.column]


class WebDatasetSource:
    """WebDataset tars (a brace pattern): one shard per tar; an id numbers the samples across the
    tars (sizes from ``sizes.json``, else counted)."""

    def __init__(self, pattern: str):
        self.urls = expand_shards(pattern)
        self.offsets = np.concatenate([[0], np.cumsum(shard_sizes(self.urls))]).astype(np.int64)
        self.description = f"webdataset {[str(Path(u).resolve()) for u in self.urls]}, a shard per tar"

    def count(self, tower: str) -> int:
        return len(self.urls)

    def shard(self, tower: str, k: int) -> tuple[np.ndarray, list]:
        ids, inputs = [], []
        for position, sample in enumerate(raw_samples([self.urls[k]])):
            if tower == "image" and (image := image_bytes(sample)) is not None:
                ids.append(position)
                inputs.append({"bytes": image[1], "path": None})
            elif tower == "text" and sample.get("txt"):
                ids.append(position)
                inputs.append(sample["txt"].decode("utf-8"))
        return self.offsets[k] + np.asarray(ids, dtype=np.int64), inputs


class ListSource:
    """Texts or images held in memory (a benchmark's), ``shard_size`` a shard; ``name`` tells one
    list from another in job.json."""

    def __init__(self, tower: str, items: Sequence, shard_size: int, name: str):
        self.tower, self.items, self.shard_size = tower, items, shard_size
        self.description = f"{len(items)} {tower} inputs ({name}), {shard_size} a shard"

    def count(self, tower: str) -> int:
        return _blocks(len(self.items), self.shard_size) if tower == self.tower else 0

    def shard(self, tower: str, k: int) -> tuple[np.ndarray, list]:
        ids = np.arange(k * self.shard_size, min((k + 1) * self.shard_size, len(self.items)), dtype=np.int64)
        return ids, [self.items[i] for i in ids]


def open_source(data: str, split: str, shard_size: int, text_column: str | None = None) -> Source:
    """A WebDataset pattern (``*.tar``, braces allowed) or a saved dataset's split (its texts from
    ``text_column``: see :class:`DatasetSource`)."""
    if data.endswith(".tar") or ".tar::" in data:
        return WebDatasetSource(data)
    return DatasetSource(data, split, shard_size, text_column)


@dataclass(frozen=True)
class EmbedJob:
    """What a job embeds and how: two jobs write the same shards only when these are equal."""

    model: str
    data: str
    towers: list[str]
    spaces: dict[str, str]  # per tower: the digest of its weights and its transform or tokenizer
    dim: int
    shards: dict[str, int]
    batch_size: int

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> EmbedJob:
        return cls(**d)


@dataclass(frozen=True)
class TowerFeatures:
    """One tower's merged vectors: ``vectors`` float32 [N, D] (memory-mapped), ``ids`` int64 [N]."""

    vectors: np.ndarray
    ids: np.ndarray


@dataclass(frozen=True)
class Embeddings:
    """The manifest of a merged directory: the job, and per tower its count and dim; ``files``: size
    and sha256 of each array."""

    job: EmbedJob
    counts: dict[str, int]
    dim: int
    files: dict[str, FileRecord]

    def to_dict(self) -> dict:
        return {
            "format": FORMAT,
            "job": self.job.to_dict(),
            "counts": self.counts,
            "dim": self.dim,
            "files": {name: r.to_dict() for name, r in self.files.items()},
        }

    @classmethod
    def from_dict(cls, d: dict) -> Embeddings:
        files = {name: FileRecord.from_dict(r) for name, r in d["files"].items()}
        return cls(EmbedJob.from_dict(d["job"]), d["counts"], int(d["dim"]), files)


@dataclass(frozen=True)
class EmbedReport:
    """What one process did: shards computed and skipped (already there), inputs embedded, seconds."""

    computed: int
    skipped: int
    inputs: int
    seconds: float
    merged: Path | None  # the merged directory, on the process that merged

    @property
    def per_second(self) -> float:
        return self.inputs / self.seconds if self.seconds else 0.0


def load_embeddings(out: str | Path, tower: str = "image") -> TowerFeatures:
    """A tower's merged vectors (memory-mapped) and ids from a job directory ``out`` (or its
    ``merged/``)."""
    root = Path(out)
    root = root if (root / MANIFEST_FILE).is_file() else root / MERGED_DIR
    if not (root / MANIFEST_FILE).is_file():
        raise FileNotFoundError(f"{root}: no {MANIFEST_FILE}; run `hubbleclip embed` (or --merge_only) first")
    if tower not in read_json(root / MANIFEST_FILE)["counts"]:
        raise UserError(f"{root}: no {tower} vectors (embed with --towers {tower})")
    return TowerFeatures(np.load(root / f"{tower}.npy", mmap_mode="r"), np.load(root / f"{tower}_ids.npy"))


def shard_path(out: Path, tower: str, k: int) -> Path:
    return out / SHARDS_DIR / f"{tower}-{k:05d}.npz"


def _embed(model: ClipModel, tower: str, inputs: list, batch_size: int) -> np.ndarray:
    if tower == "image":
        return embed_images(model, inputs, batch_size=batch_size)
    return embed_texts(model, inputs, batch_size=batch_size)


def _write_shard(path: Path, ids: np.ndarray, features: np.ndarray) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, features=features.astype(np.float32, copy=False), ids=ids)
    atomic_write_bytes(path, buffer.getvalue())


def _read_shard(path: Path, member: str) -> np.ndarray:
    """One array of a shard (``ids`` or ``features``), with a clear error for a missing or bad shard."""
    try:
        with np.load(path) as z:
            return z[member]
    except FileNotFoundError:
        raise UserError(
            f"{path}: missing; with several machines and no shared filesystem, copy every machine's "
            f"{SHARDS_DIR}/ into one and run `hubbleclip embed --merge_only --out {path.parent.parent}`"
        ) from None
    except (OSError, ValueError, KeyError) as exc:
        raise UserError(f"{path}: unreadable shard ({exc}); delete it and rerun the job") from exc


def _spaces(model: ClipModel, towers: Sequence[str]) -> dict[str, str]:
    spaces = {}
    if "image" in towers:
        spaces["image"] = image_space(model.tower_weights("image"), model.image_transform(train=False))
    if "text" in towers:
        spaces["text"] = text_space(model)
    return spaces


def _holds(out: Path, job: EmbedJob) -> bool:
    path = out / JOB_FILE
    return path.is_file() and read_json(path) == job.to_dict()


def _check(out: Path, job: EmbedJob, overwrite: bool) -> bool:
    """Whether ``out`` already holds ``job`` (a resume); an error for another job's directory unless
    ``overwrite``.  Reads only, so every process can ask before anything is written."""
    path = out / JOB_FILE
    if _holds(out, job):
        return True
    if path.is_file():
        old = read_json(path)
        if not overwrite:
            changed = sorted(k for k, v in job.to_dict().items() if old.get(k) != v)
            raise FileExistsError(
                f"{out} holds another embedding job (it differs in {', '.join(changed)}); pass "
                "--overwrite to replace it, or choose another --out"
            )
    elif out.exists() and any(out.iterdir()) and not overwrite:
        raise FileExistsError(
            f"{out} already exists and is not an embedding job (choose another --out, or pass "
            "--overwrite to write the job there)"
        )
    return False


def _start(out: Path, job: EmbedJob) -> None:
    """A fresh start for ``job`` in ``out``: no shards, no merged files, its job.json."""
    for name in (SHARDS_DIR, MERGED_DIR):
        shutil.rmtree(out / name, ignore_errors=True)
    atomic_write_json(out / JOB_FILE, job.to_dict())


def embed(
    source: Source,
    model: str | ClipModel,
    out: str | Path,
    towers: Sequence[str] = ("image",),
    batch_size: int = 64,
    overwrite: bool = False,
    merge: bool = True,
) -> EmbedReport:
    """Embed ``source`` with ``model`` into ``out`` on this process's share of the shards (all of
    them in a plain process; under ``accelerate launch`` shard k goes to process k mod N), then
    (``merge``) merge on the main process once every process is done.  Resumes: finished shards
    are skipped."""
    from accelerate import PartialState

    bad = sorted(set(towers) - set(TOWERS))
    if bad or not towers:
        raise UserError(f"--towers {','.join(towers)}: choose from {', '.join(TOWERS)}")
    state = PartialState(cpu=not torch.accelerator.is_available())
    spec = model if isinstance(model, str) else model.spec
    if isinstance(model, str):
        model = load_model(model, device=str(state.device))
    model.eval()
    out = Path(out)
    job = EmbedJob(
        spec,
        source.description,
        list(towers),
        _spaces(model, towers),
        int(model.embed_dim),
        {t: source.count(t) for t in towers},
        batch_size,
    )
    resume = _check(out, job, overwrite)  # every process, before anyone writes: all fail alike
    state.wait_for_everyone()
    if state.is_main_process and not resume:
        _start(out, job)
    state.wait_for_everyone()
    # a machine without the shared filesystem starts its own disk (with one, job.json is there now)
    if state.is_local_main_process and not state.is_main_process and not _holds(out, job):
        _start(out, job)
    state.wait_for_everyone()
    computed = skipped = inputs = 0
    t0 = time.perf_counter()
    for tower in towers:
        for k in range(state.process_index, job.shards[tower], state.num_processes):
            path = shard_path(out, tower, k)
            if path.is_file():
                skipped += 1
                continue
            ids, items = source.shard(tower, k)
            _write_shard(path, ids, _embed(model, tower, items, batch_size))
            computed, inputs = computed + 1, inputs + len(ids)
            log.info("process %d: %s shard %d (%d inputs)", state.process_index, tower, k, len(ids))
    seconds = time.perf_counter() - t0
    state.wait_for_everyone()
    # the others may exit meanwhile: a failed merge stops the launch, an idle barrier would time out
    merged = merge_shards(out) if merge and state.is_main_process else None
    return EmbedReport(computed, skipped, inputs, seconds, merged)


def merge_shards(out: str | Path) -> Path:
    """Concatenate the shards of the job in ``out`` in id order into ``out/merged`` (replaced
    atomically); returns that directory."""
    out = Path(out)
    job_path = out / JOB_FILE
    if not job_path.is_file():
        raise FileNotFoundError(f"{out}: no {JOB_FILE}; not an embedding job directory")
    job = EmbedJob.from_dict(read_json(job_path))
    counts = {}
    with atomic_directory(out / MERGED_DIR, overwrite=True) as tmp:
        for tower in job.towers:
            paths = [shard_path(out, tower, k) for k in range(job.shards[tower])]
            total = sum(len(_read_shard(p, "ids")) for p in paths)  # an npz reads only the member asked
            vectors = np.lib.format.open_memmap(tmp / f"{tower}.npy", "w+", np.float32, (total, job.dim))
            ids = np.empty(total, np.int64)
            start = 0
            for path in paths:  # shards hold increasing ids, one after another
                shard_ids, feats = _read_shard(path, "ids"), _read_shard(path, "features")
                vectors[start : start + len(shard_ids)] = feats
                ids[start : start + len(shard_ids)] = shard_ids
                start += len(shard_ids)
            if len(ids) > 1 and not (np.diff(ids) > 0).all():
                raise UserError(f"{out}: the {tower} shards' ids are not increasing; rerun with --overwrite")
            vectors.flush()
            del vectors
            np.save(tmp / f"{tower}_ids.npy", ids)
            counts[tower] = total
        manifest = Embeddings(job, counts, job.dim, record_files(tmp))
        atomic_write_json(tmp / MANIFEST_FILE, manifest.to_dict())
    log.info("merged %s into %s", ", ".join(f"{n} {t} vectors" for t, n in counts.items()), out / MERGED_DIR)
    return out / MERGED_DIR


def embed_dataset(
    model: str | ClipModel,
    data: str,
    out: str | Path,
    split: str = "train",
    towers: Sequence[str] = ("image",),
    text_column: str = "auto",
    shard_size: int = 4096,
    **settings,
) -> EmbedReport:
    """:func:`embed` over a saved dataset's split (``shard_size`` rows a shard) or WebDataset shards
    (``settings``: ``batch_size``, ``overwrite``, ``merge``)."""
    source = open_source(data, split, shard_size, text_column if "text" in towers else None)
    return embed(source, model, out, towers, **settings)
