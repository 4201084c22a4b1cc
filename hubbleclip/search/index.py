"""The on-disk retrieval index: build it once, memory-map it on load.

Layout of an index directory::

    manifest.json        format, version, model (name, weights digest, packed or named), embedding
                         size, dataset (path relative to the index) + fingerprint, object count,
                         build time, per-array shapes, size + sha256 of every other file, previews
    objects.parquet      one row per object: object_id, names, name_tokens, type, source, split,
                         constellation, text, caption, identifiers, image_ids, image_rows,
                         release_date (YYYY-MM-DD, '' = public) and program_id ('' = none)
    <name>.npy           ra_deg, dec_deg, mag, size_arcmin, xyz (unit vectors), has_image,
                         emb_text, emb_image (L2-normalised CLIP embeddings; zero rows where an
                         object has no image) -- loaded with numpy mmap_mode="r"
    bm25_names/, bm25_text/   bm25s indexes over names and over text + caption (memory-mapped)
    ann_text.faiss, ann_image.faiss   faiss IVF indexes of emb_text and emb_image, only in an index of
                         at least ``AnnBuildConfig.min_objects`` objects (hubbleclip.search.ann;
                         memory-mapped); the manifest's ``ann`` section lists them
    ranker/              optional learned ranker (see hubbleclip.search.ranker)
    model/               the query encoder (ClipModel.save directory) when built from a local one
    previews.*           the object images, sized for the web (hubbleclip.indexes.previews), with
                         id, object id, names, type, source and credit

Every stored path is relative to the index directory, so the directory answers queries (and the web
page shows its images) wherever it is copied.  Anything missing or inconsistent raises
:class:`IndexFormatError` (or :class:`hubbleclip.indexes.travel.IndexFilesError`) naming the file.
Version 2 indexes (absolute paths, images read from the dataset) still open, with a warning.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from hubbleclip.access.cache import MaskKeyedCache
from hubbleclip.data.load import encoded_images, load_dataset_dict
from hubbleclip.errors import UserError
from hubbleclip.indexes.files import shape_problem
from hubbleclip.indexes.model import load_checked, pack_model
from hubbleclip.indexes.previews import META as PREVIEW_META
from hubbleclip.indexes.previews import Previews, encoded_bytes, write_previews
from hubbleclip.indexes.travel import IndexFilesError, Travel, warn_not_relocatable
from hubbleclip.io import atomic_directory, atomic_write_json, read_json
from hubbleclip.models.embed import ClipEncoder
from hubbleclip.models.feature_cache import feature_cache
from hubbleclip.models.loader import load_model
from hubbleclip.search.ann import KINDS, DenseNeighbours, ann_file, build_ivf, read_ivf, write_ivf
from hubbleclip.search.bm25 import BM25Field
from hubbleclip.search.config import AnnBuildConfig, CandidateConfig, SearchIndexConfig
from hubbleclip.search.corpus import Corpus, corpus_from_dataset
from hubbleclip.search.text import tokenize, tokenize_many

log = logging.getLogger(__name__)

FORMAT = "hubbleclip-retrieval-index"
VERSION = 3  # 2: objects.parquet holds the catalogue identifiers; 3: relocatable (model, previews, digests)
OLD_VERSIONS = (2,)  # still read, with a warning: they need the build machine's paths
REBUILD = "hubbleclip index build --overwrite true"
MANIFEST = "manifest.json"
OBJECTS = "objects.parquet"
VECTORS = ("ra_deg", "dec_deg", "mag", "size_arcmin", "has_image")
MATRICES = ("xyz", "emb_text", "emb_image")
BM25_DIRS = ("bm25_names", "bm25_text")
ANN_MODES = ("auto", "exact", "approximate")


class IndexFormatError(UserError):
    """An index directory that is missing files or does not match its manifest."""


def dataset_fingerprint(dsd) -> str:
    parts = "".join(f"{split}:{dsd[split]._fingerprint}:{dsd[split].num_rows};" for split in sorted(dsd))
    return hashlib.sha256(parts.encode()).hexdigest()[:16]


def _write_previews(dest: Path, dsd, corpus: Corpus) -> int:
    """The previews of every object image, in corpus order, with their dataset rows' metadata."""
    refs = [ref for rows in corpus.image_rows for ref in rows]
    meta = {split: dsd[split].select_columns(list(PREVIEW_META)) for split in {s for s, _ in refs}}
    records = [meta[split][row] for split, row in refs]
    _, images = _object_images(dsd, corpus)
    return write_previews(dest, records, (encoded_bytes(cell) for cell in images))


def _model_of(encoder):
    """The torch module behind an encoder (a stand-in without one is loaded from its spec)."""
    model = getattr(encoder, "model", None)
    return model if model is not None else load_model(encoder.spec)


def _object_images(dsd, corpus: Corpus) -> tuple[list[int], list[dict]]:
    """Every object image, encoded (as the dataset stores it), in corpus order, with the corpus
    index of its object."""
    owners = [i for i, rows in enumerate(corpus.image_rows) for _ in rows]
    encoded = {
        split: encoded_images(dsd[split]) for split in {s for rows in corpus.image_rows for s, _ in rows}
    }
    return owners, [encoded[split][row] for rows in corpus.image_rows for split, row in rows]


def embed_corpus(dsd, corpus: Corpus, encoder) -> tuple[np.ndarray, np.ndarray]:
    """(text embeddings [N, D], mean image embedding per object [N, D], zero without image)."""
    t0 = time.time()
    emb_text = np.asarray(encoder.embed_texts(corpus.clip_texts()), np.float32)
    log.info("embedded %d object texts in %.1f s", len(corpus), time.time() - t0)
    owners, images = _object_images(dsd, corpus)
    emb_image = np.zeros_like(emb_text)
    if owners:
        t0 = time.time()
        per_image = np.asarray(encoder.embed_images(images), np.float32)
        np.add.at(emb_image, np.asarray(owners), per_image)
        norms = np.linalg.norm(emb_image, axis=1, keepdims=True)
        emb_image = np.where(norms > 0, emb_image / np.maximum(norms, 1e-12), 0.0).astype(np.float32)
        log.info("embedded %d images in %.1f s", len(owners), time.time() - t0)
    return emb_text, emb_image


def build_retrieval_index(cfg: SearchIndexConfig, encoder=None) -> Path:
    """Corpus + BM25 indexes + CLIP embeddings + numeric features, written atomically to ``cfg.out``."""
    dsd = load_dataset_dict(cfg.dataset)
    corpus = corpus_from_dataset(dsd, include_stars=cfg.include_stars)
    log.info("corpus: %d objects (%d with images)", len(corpus), sum(bool(r) for r in corpus.image_rows))
    encoder = encoder or ClipEncoder(
        cfg.model, device=cfg.device, batch_size=cfg.batch_size, cache=feature_cache(cfg.cache_dir)
    )
    emb_text, emb_image = embed_corpus(dsd, corpus, encoder)
    return write_index(
        cfg.out,
        corpus,
        emb_text,
        emb_image,
        encoder,
        dataset=cfg.dataset,
        dataset_fp=dataset_fingerprint(dsd),
        include_stars=cfg.include_stars,
        overwrite=cfg.overwrite,
        ann=cfg.ann,
        previews=lambda tmp: _write_previews(tmp, dsd, corpus),
    )


def write_index(
    out: str | Path,
    corpus: Corpus,
    emb_text: np.ndarray,
    emb_image: np.ndarray,
    encoder,
    *,
    dataset: str = "",
    dataset_fp: str = "",
    include_stars: bool = False,
    overwrite: bool = False,
    ann: AnnBuildConfig | None = None,
    previews=None,
) -> Path:
    """Write an index from a corpus and its precomputed embeddings, without running a model: the
    way to build one at archive scale from arrays (``bench/``).  ``emb_text`` and ``emb_image`` are
    [N, D] L2-normalised float32 (a zero ``emb_image`` row: the object has no image); ``encoder``
    names the query encoder (its ``spec``, and ``model`` for the weights digest); ``dataset`` is
    where the rows came from ('' for none); ``previews(tmp)`` writes the image previews and returns
    their count (None: no previews).  Seconds per stage go into the manifest's ``build_seconds``."""
    ann = ann or AnnBuildConfig()
    emb_text, emb_image = np.asarray(emb_text, np.float32), np.asarray(emb_image, np.float32)
    if emb_text.shape != emb_image.shape or len(emb_text) != len(corpus):
        raise ValueError(
            f"embeddings {emb_text.shape} and {emb_image.shape} do not match {len(corpus)} objects"
        )
    arrays = {
        "ra_deg": corpus.ra_deg,
        "dec_deg": corpus.dec_deg,
        "mag": corpus.mag,
        "size_arcmin": corpus.size_arcmin,
        "has_image": np.array([bool(r) for r in corpus.image_rows])
        if previews is not None
        else np.any(emb_image != 0, axis=1),
        "xyz": corpus.unit_vectors().astype(np.float32),
        "emb_text": emb_text,
        "emb_image": emb_image,
    }
    seconds: dict[str, float] = {}
    with atomic_directory(out, overwrite=overwrite) as tmp:
        t0 = time.perf_counter()
        for name, arr in arrays.items():
            np.save(tmp / f"{name}.npy", np.ascontiguousarray(arr))
        _write_objects(tmp / OBJECTS, corpus)
        seconds["arrays_and_objects"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        BM25Field.build(tokenize_many(corpus.bm25_names())).save(tmp / "bm25_names")
        BM25Field.build(tokenize_many(corpus.bm25_texts())).save(tmp / "bm25_text")
        seconds["bm25"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        ann_section = _write_ann(tmp, arrays, ann) if len(corpus) >= ann.min_objects else {}
        seconds["ann"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        n_previews = previews(tmp) if previews is not None else write_previews(tmp, [], [])
        model = pack_model(encoder.spec, _model_of(encoder), tmp)
        seconds["previews_and_model"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        travel = Travel.record(tmp, model, n_previews, MANIFEST)
        seconds["digests"] = time.perf_counter() - t0
        log.info("index build seconds: %s", {k: round(v, 2) for k, v in seconds.items()})
        atomic_write_json(
            tmp / MANIFEST,
            {
                "format": FORMAT,
                "version": VERSION,
                "embed_dim": int(emb_text.shape[1]),
                # where the dataset was, seen from the index (for evaluations on the build machine)
                "dataset": os.path.relpath(Path(dataset).resolve(), Path(out).resolve()) if dataset else "",
                "dataset_fingerprint": dataset_fp,
                "n_objects": len(corpus),
                "n_with_image": int(arrays["has_image"].sum()),
                "include_stars": include_stars,
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "arrays": {name: list(arr.shape) for name, arr in arrays.items()},
                "ann": ann_section,
                "build_seconds": {k: round(v, 3) for k, v in seconds.items()},
                **travel.to_dict(),
            },
        )
    log.info("index written to %s", out)
    return Path(out)


def _write_objects(file: Path, corpus: Corpus) -> None:
    table = pa.table(
        {
            "object_id": corpus.object_id,
            "names": corpus.names,
            "name_tokens": [[" ".join(tokenize(n)) for n in names] for names in corpus.names],
            "type": corpus.type,
            "source": corpus.source,
            "split": corpus.split,
            "constellation": corpus.constellation,
            "text": corpus.text,
            "caption": corpus.caption,
            "identifiers": corpus.identifiers,
            "image_ids": corpus.image_ids,
            "image_rows": [[f"{s}:{r}" for s, r in rows] for rows in corpus.image_rows],
            "release_date": [d.isoformat() if d else "" for d in corpus.release_date],
            "program_id": [p or "" for p in corpus.program_id],
        }
    )
    pq.write_table(table, file)


def _write_ann(tmp: Path, arrays: dict[str, np.ndarray], cfg: AnnBuildConfig) -> dict:
    """The faiss IVF index of each embedding, and the manifest's record of them."""
    section = {}
    for kind, rows in (
        ("text", np.arange(len(arrays["emb_text"]))),
        ("image", np.flatnonzero(arrays["has_image"])),
    ):
        if not len(rows):
            continue
        t0 = time.perf_counter()
        ivf = build_ivf(arrays[f"emb_{kind}"], rows, cfg.nlist, cfg.seed)
        write_ivf(ivf, tmp / ann_file(kind))
        section[kind] = {"file": ann_file(kind), "nlist": int(ivf.nlist), "n": int(ivf.ntotal)}
        log.info(
            "faiss IVF%d of %d %s embeddings in %.1f s", ivf.nlist, ivf.ntotal, kind, time.perf_counter() - t0
        )
    return section


class VisibleBM25:
    """BM25 fields built over the visible entries only, so that term statistics (idf, mean length)
    of rows a caller may not see never shape its scores.  Built on the first query of each visible
    set (a release day or a token scope) and kept for the next ones; scores are 0 for hidden rows."""

    def __init__(self, index: SearchIndex, keep: int = 8):
        self.index = index
        self._tokens: tuple[list[list[str]], list[list[str]]] | None = None
        self._fields = MaskKeyedCache(self._build, keep=keep)

    def fields(self, visible: np.ndarray) -> tuple[SubsetBM25, SubsetBM25]:
        return self._fields.get(visible)

    def _build(self, visible: np.ndarray) -> tuple[SubsetBM25, SubsetBM25]:
        if self._tokens is None:  # built under the cache's lock: once
            corpus = self.index.corpus
            self._tokens = (tokenize_many(corpus.bm25_names()), tokenize_many(corpus.bm25_texts()))
        rows = np.flatnonzero(visible)
        return tuple(
            SubsetBM25(BM25Field.build([tokens[i] for i in rows]) if len(rows) else None, rows, len(visible))
            for tokens in self._tokens
        )


class SubsetBM25:
    """A BM25 field over some rows of the corpus, scoring every row (0 outside the subset)."""

    def __init__(self, field: BM25Field | None, rows: np.ndarray, n: int):
        self.field, self.rows, self.n_docs = field, rows, n

    def scores(self, query_tokens: list[str]) -> np.ndarray:
        out = np.zeros(self.n_docs, np.float32)
        if self.field is not None:
            out[self.rows] = self.field.scores(query_tokens)
        return out


class SearchIndex:
    """A loaded index: the corpus, memory-mapped arrays and the two BM25 fields."""

    def __init__(
        self,
        path: Path,
        manifest: dict,
        corpus: Corpus,
        arrays: dict[str, np.ndarray],
        name_tokens: list[list[list[str]]],
        bm25: dict[str, BM25Field],
        ivf: dict | None = None,
    ):
        self.path, self.manifest, self.corpus, self.name_tokens = path, manifest, corpus, name_tokens
        self.ivf = dict(ivf or {})  # kind -> faiss IVF index (memory-mapped), in a large index only
        self.xyz, self.emb_text, self.emb_image = arrays["xyz"], arrays["emb_text"], arrays["emb_image"]
        self.has_image = np.asarray(arrays["has_image"], bool)
        self.bm25_names, self.bm25_text = bm25["bm25_names"], bm25["bm25_text"]
        self.row_of = {}  # object id -> its first entry (an object may have a private entry too)
        for i, oid in enumerate(corpus.object_id):
            self.row_of.setdefault(oid, i)
        self.access = corpus.access()
        self._visible_bm25 = VisibleBM25(self)
        # None: a version 2 index (model and images where the build machine had them)
        self.travel = Travel.from_dict(manifest) if manifest["version"] == VERSION else None
        self._previews: Previews | None = None

    def __len__(self) -> int:
        return len(self.corpus)

    @property
    def model_spec(self) -> str:
        """The model's name (a version 2 index: the spec it was built with)."""
        return self.travel.model.name if self.travel else self.manifest["model_spec"]

    @property
    def dataset_path(self) -> Path:
        """Where the dataset was when the index was built (an index copied elsewhere needs none)."""
        return self.path / self.manifest["dataset"] if self.travel else Path(self.manifest["dataset"])

    @property
    def previews(self) -> Previews | None:
        """The index's image previews (None for a version 2 index: read the dataset)."""
        if self._previews is None and self.travel:
            self._previews = Previews(self.path)
        return self._previews

    def query_encoder(self, device: str = "cpu", model: str | None = None) -> ClipEncoder:
        """The encoder of queries: the index's model, or ``model`` (checked against its digest)."""
        if self.travel is None:
            return ClipEncoder(model or self.model_spec, device=device)
        _, encoder = load_checked(
            self.travel.model, self.path, lambda spec: ClipEncoder(spec, device=device), model
        )
        return encoder

    @classmethod
    def load(cls, path: str | Path) -> SearchIndex:
        path = Path(path)
        manifest = read_manifest(path)
        if manifest["version"] == VERSION:
            try:
                Travel.from_dict(manifest).require(path)
            except IndexFilesError as exc:
                raise IndexFormatError(str(exc)) from None
        else:
            warn_not_relocatable(path, REBUILD)
        n = manifest["n_objects"]
        arrays = {}
        for name in VECTORS + MATRICES:
            file = path / f"{name}.npy"
            if not file.is_file():
                raise IndexFormatError(
                    f"{file}: missing (the index is incomplete; rebuild it with `hubbleclip index build`)"
                )
            try:
                arr = np.load(file, mmap_mode="r")
            except ValueError as exc:
                raise IndexFormatError(f"{file}: not a readable .npy array ({exc})") from exc
            if arr.shape[0] != n or list(arr.shape) != manifest["arrays"].get(name, list(arr.shape)):
                raise IndexFormatError(
                    f"{file}: shape {list(arr.shape)} does not match the manifest "
                    f"({manifest['arrays'].get(name)}, {n} objects)"
                )
            arrays[name] = arr
        corpus, name_tokens = _read_objects(path / OBJECTS, arrays, n)
        bm25 = {}
        for name in BM25_DIRS:
            try:
                bm25[name] = BM25Field.load(path / name, mmap=True)
            except (FileNotFoundError, OSError, ValueError, KeyError) as exc:
                raise IndexFormatError(f"{path / name}: unreadable BM25 index ({exc})") from exc
            if bm25[name].n_docs != n:
                raise IndexFormatError(f"{path / name}: {bm25[name].n_docs} documents, the manifest says {n}")
        return cls(path, manifest, corpus, arrays, name_tokens, bm25, _read_ann(path, manifest))

    def dense_neighbours(self, cfg: CandidateConfig) -> dict[str, DenseNeighbours]:
        """The dense candidate search of each embedding (``KINDS``) under ``cfg.ann``: ``auto`` uses
        the index's IVF files where it has them, ``exact`` never, ``approximate`` always (an index
        built without them gets them trained in memory, once)."""
        if cfg.ann not in ANN_MODES:
            raise UserError(f"ann: {cfg.ann!r} is not one of {', '.join(ANN_MODES)}")
        members = {"text": np.ones(len(self), bool), "image": self.has_image}
        out = {}
        for kind in KINDS:
            vectors = self.emb_text if kind == "text" else self.emb_image
            ivf = None if cfg.ann == "exact" else self.ivf.get(kind)
            if ivf is None and cfg.ann == "approximate" and members[kind].any():
                log.info("training a faiss IVF index of %s embeddings in memory (ann=approximate)", kind)
                ivf = self.ivf[kind] = build_ivf(vectors, np.flatnonzero(members[kind]))
            out[kind] = DenseNeighbours(vectors, members[kind], ivf, cfg.nprobe, cfg.exact_below)
        return out

    def bm25(self, visible: np.ndarray | None = None) -> tuple:
        """The (names, text) BM25 fields over the ``visible`` entries only (None = all)."""
        if visible is None or visible.all():
            return self.bm25_names, self.bm25_text
        return self._visible_bm25.fields(visible)

    def image_path(self, i: int) -> str:
        """Where the object's first image lives: ``DATASET::split:row (row id)``, or ''."""
        if not self.corpus.image_rows[i]:
            return ""
        split, row = self.corpus.image_rows[i][0]
        return f"{self.manifest['dataset']}::{split}:{row} ({self.corpus.image_ids[i][0]})"

    def load_image(self, i: int):
        """The object's first image as PIL (its preview; a version 2 index reads its dataset), or None."""
        if not self.corpus.image_rows[i]:
            return None
        if self.previews is not None:
            return Image.open(io.BytesIO(self.previews.data(self.corpus.image_ids[i][0])))
        split, row = self.corpus.image_rows[i][0]
        return load_dataset_dict(self.dataset_path)[split][row]["image"]


def check_index(path: Path, model: str = "") -> list[str]:
    """Everything ``hubbleclip index check`` finds wrong with a retrieval index, one line each:
    version, files (size and sha256), array shapes, previews, and the model's digest (the index's
    own, or ``model``)."""
    manifest = read_manifest(path)
    if manifest["version"] != VERSION:
        return [
            f"{path}: index version {manifest['version']} records paths of the machine that built it "
            f"and is not checked; rebuild it with `{REBUILD}` to make it relocatable"
        ]
    found = Travel.from_dict(manifest).problems(path, deep=True, load=ClipEncoder, model=model)
    for name, shape in manifest["arrays"].items():
        file = path / f"{name}.npy"
        if not any(str(file) in p for p in found) and (problem := shape_problem(file, shape)):
            found.append(problem)
    return found


def read_manifest(path: Path) -> dict:
    if not path.is_dir():
        raise FileNotFoundError(
            f"{path}: index directory not found (build one with `hubbleclip index build`)"
        )
    file = path / MANIFEST
    if not file.is_file():
        raise IndexFormatError(
            f"{path}: not a retrieval index (no {MANIFEST}; build one with `hubbleclip index build`)"
        )
    manifest = read_json(file, IndexFormatError)
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise IndexFormatError(f'{file}: expected "format": "{FORMAT}"')
    if manifest.get("version") not in (VERSION, *OLD_VERSIONS):
        raise IndexFormatError(
            f"{file}: index version {manifest.get('version')!r}, this hubbleclip reads version "
            f"{VERSION}; rebuild it with `hubbleclip index build`"
        )
    fields = (("model", dict), ("files", dict), ("previews", dict))
    if manifest["version"] != VERSION:
        fields = (("model_spec", str),)
    for key, kind in (("n_objects", int), ("dataset", str), ("arrays", dict), *fields):
        if not isinstance(manifest.get(key), kind):
            raise IndexFormatError(f"{file}: field {key!r} missing or not a {kind.__name__}")
    return manifest


def _read_ann(path: Path, manifest: dict) -> dict:
    """The IVF indexes the manifest lists, memory-mapped (none in a small or older index)."""
    out = {}
    for kind, record in (manifest.get("ann") or {}).items():
        file = path / record["file"]
        try:
            out[kind] = read_ivf(file)
        except RuntimeError as exc:  # faiss's own error, naming the file's problem
            raise IndexFormatError(f"{file}: unreadable faiss index ({str(exc).splitlines()[0]})") from exc
        if out[kind].ntotal != record["n"]:
            raise IndexFormatError(f"{file}: {out[kind].ntotal} vectors, the manifest says {record['n']}")
    return out


def _read_objects(file: Path, arrays: dict[str, np.ndarray], n: int) -> tuple[Corpus, list[list[list[str]]]]:
    if not file.is_file():
        raise IndexFormatError(
            f"{file}: missing (the index is incomplete; rebuild it with `hubbleclip index build`)"
        )
    try:
        cols = pq.read_table(file).to_pydict()
    except (pa.ArrowException, OSError) as exc:
        raise IndexFormatError(f"{file}: unreadable parquet table ({exc})") from exc
    needed = {
        "object_id",
        "names",
        "name_tokens",
        "type",
        "source",
        "split",
        "constellation",
        "text",
        "caption",
        "identifiers",
        "image_ids",
        "image_rows",
    }
    if needed - set(cols) or len(cols["object_id"]) != n:
        raise IndexFormatError(f"{file}: expected {n} rows with columns {sorted(needed)}")
    corpus = Corpus(
        object_id=cols["object_id"],
        names=cols["names"],
        type=cols["type"],
        source=cols["source"],
        split=cols["split"],
        ra_deg=arrays["ra_deg"],
        dec_deg=arrays["dec_deg"],
        mag=arrays["mag"],
        size_arcmin=arrays["size_arcmin"],
        constellation=cols["constellation"],
        text=cols["text"],
        caption=cols["caption"],
        identifiers=cols["identifiers"],
        image_ids=cols["image_ids"],
        image_rows=[
            [(ref.rsplit(":", 1)[0], int(ref.rsplit(":", 1)[1])) for ref in refs]
            for refs in cols["image_rows"]
        ],
        # indexes written before access control have no such columns: everything in them is public
        release_date=[d or None for d in cols.get("release_date", [])],
        program_id=[p or None for p in cols.get("program_id", [])],
    )
    return corpus, [[t.split() for t in toks] for toks in cols["name_tokens"]]
