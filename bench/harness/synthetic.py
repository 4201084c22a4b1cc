"""Archive-like synthetic data at any size, seeded, streamed in chunks (issue 26.1).

One directory per size::

    catalogue.parquet   object_id, names, type, ra_deg, dec_deg, mag, size_arcmin, constellation,
                        text, caption: positions uniform on the sphere; type, magnitude and size
                        drawn jointly from an OpenNGC row (pyongc), lightly jittered; names such
                        as ``SYN J053517.3-052328`` from the position
    emb_text.npy        [N, D] float32 unit vectors of the object texts
    emb_image.npy       [N, D] paired image vectors (image i goes with text i)
    uniform.npy         [N, D] uniform random unit vectors: the worst case for approximate search
    meta.json           n, seed, dim, how the vectors were drawn

The realistic vectors come either from jittered copies of a real index's embeddings
(``real_index``) or, by default, from a Gaussian mixture on the unit sphere whose parameters
were chosen so that it looks like the demo's lit-mini embeddings (a shared mean direction of
norm about 0.6, mean pairwise cosine about 0.35, median nearest-neighbour cosine about 0.96 at
16k vectors, about 8 effective dimensions).  Nothing is held whole in memory except the
mixture's centres: 1M rows are written ``chunk`` at a time.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from hubbleclip.data.sources.openngc import load_catalog
from hubbleclip.data.text import template_caption
from hubbleclip.io import atomic_directory, atomic_write_json
from hubbleclip.search.corpus import constellations

CHUNK = 50_000


@dataclass(frozen=True)
class Mixture:
    """A Gaussian mixture on the sphere: ``normalise(mean + centre_k + noise)``; ``centre_k`` has a
    power-law spectrum (``decay``) of total norm ``spread``.  Texts and images share the centres
    but not the mean direction (CLIP's modality gap)."""

    dim: int = 256
    centres: int = 2048
    mean_norm: float = 0.75
    decay: float = 0.75
    spread: float = 1.05
    noise: float = 0.22


def _normalise(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def mixture_pairs(n: int, seed: int, mix: Mixture = Mixture(), chunk: int = CHUNK) -> Iterator[tuple]:
    """(text, image) vector chunks of the mixture, paired row by row."""
    rng = np.random.default_rng([seed, 1])
    means = rng.standard_normal((2, mix.dim))
    means *= mix.mean_norm / np.linalg.norm(means, axis=1, keepdims=True)
    scale = np.arange(1, mix.dim + 1) ** -mix.decay
    scale *= mix.spread / np.sqrt((scale**2).sum())
    centres = rng.standard_normal((mix.centres, mix.dim)) * scale
    sigma = mix.noise / math.sqrt(mix.dim)
    for s in range(0, n, chunk):
        m = min(chunk, n - s)
        c = centres[rng.integers(0, mix.centres, m)]
        yield tuple(_normalise(mean + c + rng.standard_normal((m, mix.dim)) * sigma) for mean in means)


def jittered_pairs(
    text: np.ndarray, image: np.ndarray, n: int, seed: int, noise: float = 0.15, chunk: int = CHUNK
) -> Iterator[tuple]:
    """(text, image) chunks of jittered copies of real paired embeddings ``text[j]``, ``image[j]``."""
    rng = np.random.default_rng([seed, 2])
    sigma = noise / math.sqrt(text.shape[1])
    for s in range(0, n, chunk):
        m = min(chunk, n - s)
        j = rng.integers(0, len(text), m)
        yield tuple(_normalise(a[j] + rng.standard_normal(a[j].shape) * sigma) for a in (text, image))


def uniform_vectors(n: int, dim: int, seed: int, chunk: int = CHUNK) -> Iterator[np.ndarray]:
    rng = np.random.default_rng([seed, 3])
    for s in range(0, n, chunk):
        yield _normalise(rng.standard_normal((min(chunk, n - s), dim)))


def real_pairs(index_dir: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """The (text, image) embeddings of a retrieval index's objects that have an image."""
    index_dir = Path(index_dir)
    has = np.load(index_dir / "has_image.npy")
    return np.load(index_dir / "emb_text.npy")[has], np.load(index_dir / "emb_image.npy")[has]


def sky_name(ra_deg: float, dec_deg: float) -> str:
    """'SYN J053517.3-052328': a J2000 designation from the position (RA to 0.1 s, Dec to 1")."""
    tenths = round(ra_deg / 15 * 36000) % 864000  # RA in tenths of a second of time
    h, rem = divmod(tenths, 36000)
    m, t = divmod(rem, 600)
    arcsec = min(round(abs(dec_deg) * 3600), 90 * 3600)
    d, rem = divmod(arcsec, 3600)
    dm, ds = divmod(rem, 60)
    sign = "-" if dec_deg < 0 else "+"
    return f"SYN J{h:02d}{m:02d}{t // 10:02d}.{t % 10}{sign}{d:02d}{dm:02d}{ds:02d}"


@dataclass(frozen=True)
class OpenNGCRows:
    """Type, magnitude (NaN unknown) and major axis (NaN unknown) of every OpenNGC object."""

    type: np.ndarray
    mag: np.ndarray
    size: np.ndarray

    @classmethod
    def load(cls) -> OpenNGCRows:
        objs = load_catalog()
        return cls(
            np.array([o.type for o in objs]),
            np.array([o.mag for o in objs], float),
            np.array([o.major_arcmin or math.nan for o in objs], float),
        )


def catalogue_chunks(n: int, seed: int, chunk: int = CHUNK) -> Iterator[pa.Table]:
    """Catalogue rows in chunks: uniform positions; type, magnitude and size of a random OpenNGC
    row (jointly, so faint galaxies stay small), magnitude +-0.3 and size x e^N(0, 0.2)."""
    ngc = OpenNGCRows.load()
    rng = np.random.default_rng([seed, 4])
    seen: set[str] = set()
    for s in range(0, n, chunk):
        m = min(chunk, n - s)
        ra = rng.uniform(0, 360, m)
        dec = np.degrees(np.arcsin(rng.uniform(-1, 1, m)))
        pick = rng.integers(0, len(ngc.type), m)
        mag = np.round(ngc.mag[pick] + rng.uniform(-0.3, 0.3, m), 1)
        size = np.round(ngc.size[pick] * np.exp(rng.normal(0, 0.2, m)), 2)
        types = ngc.type[pick].tolist()
        const = constellations(ra, dec)
        names = []
        for r, d in zip(ra.tolist(), dec.tolist()):
            name = sky_name(r, d)
            while name in seen:  # two positions in one 0.1 s x 1" cell: a suffix, as catalogues do
                name += "B"
            seen.add(name)
            names.append(name)
        captions = [
            template_caption(t, major_arcmin=sz, mag=mg, constellation=c)
            for t, sz, mg, c in zip(types, size.tolist(), mag.tolist(), const)
        ]
        texts = [
            f"{nm} is {'an' if t[0] in 'aeiou' else 'a'} {t} in the constellation {c}."
            + (f" Magnitude {mg:.1f}." if math.isfinite(mg) else "")
            + (f" Apparent size {sz:.2f}'." if math.isfinite(sz) else "")
            for nm, t, c, mg, sz in zip(names, types, const, mag.tolist(), size.tolist())
        ]
        yield pa.table(
            {
                "object_id": [nm.replace(" ", "_") for nm in names],
                "names": [[nm] for nm in names],
                "type": types,
                "ra_deg": ra,
                "dec_deg": dec,
                "mag": mag,
                "size_arcmin": size,
                "constellation": const,
                "text": texts,
                "caption": captions,
            }
        )


def _write_npy(path: Path, n: int, dim: int, chunks: Iterator[np.ndarray]) -> None:
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, dim))
    s = 0
    for block in chunks:
        out[s : s + len(block)] = block
        s += len(block)
    out.flush()
    del out


def build_synthetic(
    out: str | Path,
    n: int,
    seed: int = 0,
    real_index: str | Path | None = None,
    mix: Mixture = Mixture(),
    chunk: int = CHUNK,
    overwrite: bool = False,
) -> Path:
    """Write the catalogue, the paired realistic vectors and the uniform vectors of ``n`` objects."""
    real = real_pairs(real_index) if real_index else None
    dim = real[0].shape[1] if real is not None else mix.dim
    pairs = (
        jittered_pairs(*real, n, seed, chunk=chunk)
        if real is not None
        else mixture_pairs(n, seed, mix, chunk)
    )
    with atomic_directory(out, overwrite=overwrite) as tmp:
        text = np.lib.format.open_memmap(tmp / "emb_text.npy", mode="w+", dtype=np.float32, shape=(n, dim))
        image = np.lib.format.open_memmap(tmp / "emb_image.npy", mode="w+", dtype=np.float32, shape=(n, dim))
        s = 0
        for t, i in pairs:
            text[s : s + len(t)], image[s : s + len(i)] = t, i
            s += len(t)
        text.flush(), image.flush()
        del text, image
        _write_npy(tmp / "uniform.npy", n, dim, uniform_vectors(n, dim, seed, chunk))
        writer = None
        for table in catalogue_chunks(n, seed, chunk):
            writer = writer or pq.ParquetWriter(tmp / "catalogue.parquet", table.schema)
            writer.write_table(table)
        writer.close()
        atomic_write_json(
            tmp / "meta.json",
            {
                "n": n,
                "seed": seed,
                "dim": dim,
                "vectors": f"jittered {real_index}" if real is not None else "mixture",
                "mixture": None if real is not None else asdict(mix),
            },
        )
    return Path(out)
