"""Build the offline "skyset" (OpenNGC + Stellarium + FIRST + Hubble Deep Field) and save datasets.

Every source is optional: a missing one is skipped with one line saying how to provide it, and
the build succeeds with what exists.  Unreadable images are skipped and listed in the report.
The dataset is written atomically: an interrupted build leaves nothing behind.
"""

from __future__ import annotations

import io
import logging
import math
import time
import zipfile
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from hubbleclip.config import to_dict
from hubbleclip.data.config import ALL_SOURCES, SkysetConfig
from hubbleclip.data.schema import ACCESS_COLUMNS, COLUMNS, FEATURES
from hubbleclip.data.sources import first, hdf, kstars, openngc, stellarium
from hubbleclip.data.splits import SPLITS, assign_splits
from hubbleclip.data.text import sexagesimal, template_caption
from hubbleclip.errors import UserError
from hubbleclip.io import atomic_directory, atomic_write_json

log = logging.getLogger(__name__)

IMAGE_ERRORS = (OSError, SyntaxError, ValueError, Image.DecompressionBombError, zipfile.BadZipFile)


# ---------------------------------------------------------------- images


def encode_image(data: bytes | Path, max_size: int) -> bytes:
    """Decode, flatten alpha onto black sky, shrink to ``max_size`` and re-encode as PNG."""
    im = Image.open(io.BytesIO(data) if isinstance(data, bytes) else data)
    im.load()
    if im.mode in ("RGBA", "LA", "P"):
        im = im.convert("RGBA")
        sky = Image.new("RGBA", im.size, (0, 0, 0, 255))
        im = Image.alpha_composite(sky, im).convert("RGB")
    elif im.mode not in ("RGB", "L"):
        im = im.convert("RGB")
    if max(im.size) > max_size:
        im.thumbnail((max_size, max_size), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def _encode_file(args: tuple[Path, int]) -> tuple[bytes | None, str | None]:
    path, max_size = args
    try:
        return encode_image(path, max_size), None
    except IMAGE_ERRORS as exc:
        return None, f"{type(exc).__name__}: {exc}"


def _map(func, items: list, workers: int) -> list:
    if workers > 1 and len(items) > 8:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(func, items, chunksize=8))
    return [func(i) for i in items]


# ---------------------------------------------------------------- sources


def _constellations(ra: list[float], dec: list[float]) -> list[str]:
    from astropy import units as u
    from astropy.coordinates import SkyCoord

    if not ra:
        return []
    return list(SkyCoord(np.asarray(ra) * u.deg, np.asarray(dec) * u.deg).get_constellation())


def stellarium_rows(cfg: SkysetConfig, catalog, articles: dict[str, str], report: dict) -> list[dict]:
    root = stellarium.find_stellarium_dir(cfg.stellarium_dir)
    if root is None:
        where = cfg.stellarium_dir or "the usual install locations"
        report["missing_sources"]["stellarium"] = (
            f"no nebulae/default/textures.json under {where}: "
            "run `make debian-data` (Debian's stellarium-data) "
            "or pass --stellarium_dir to a Stellarium install's share/stellarium folder"
        )
        log.warning("stellarium: skipped (%s)", report["missing_sources"]["stellarium"])
        return []
    images = stellarium.read_textures(root)
    names_dat = stellarium.read_names_dat(root)
    matcher = stellarium.Matcher(catalog)
    encoded = _map(_encode_file, [(im.file, cfg.max_image_size) for im in images], cfg.workers)
    consts = _constellations([im.center.ra.deg for im in images], [im.center.dec.deg for im in images])
    rows, how = [], Counter()
    for im, (data, error), const in zip(images, encoded, consts):
        if data is None:
            report["skipped_images"].append({"source": "stellarium", "file": str(im.file), "reason": error})
            continue
        obj, method = matcher.match(im)
        how[method] += 1
        base = {
            "id": f"stellarium:{im.file.stem}",
            "source": "stellarium",
            "image": {"bytes": data, "path": None},
            "credit": im.credit,
        }
        if obj is not None:
            names = obj.names  # names.dat names are in already (build_skyset)
            rows.append(
                base
                | {
                    "object_id": obj.object_id,
                    "names": names,
                    "type": obj.type,
                    "ra_deg": obj.ra_deg,
                    "dec_deg": obj.dec_deg,
                    "mag": obj.mag,
                    "text": openngc.describe(obj, articles.get(obj.type)),
                    "caption": openngc.caption(obj),
                }
            )
        else:
            label = stellarium.unmatched_type(im.file.stem)
            names = stellarium.unmatched_names(im.file.stem, names_dat)
            text = (
                f"{names[0]} is a {label} at {sexagesimal(im.center.ra.deg, im.center.dec.deg)} (J2000) "
                f"in the constellation {const}; the image spans {im.size_deg:.2f} degrees."
                + (f" {articles[label]}" if label in articles else "")
            )
            rows.append(
                base
                | {
                    "object_id": f"stellarium:{stellarium.group_stem(im.file.stem)}",
                    "names": names,
                    "type": label,
                    "ra_deg": float(im.center.ra.deg),
                    "dec_deg": float(im.center.dec.deg),
                    "mag": float("nan"),
                    "text": text,
                    "caption": template_caption(label, constellation=const),
                }
            )
    report["stellarium_matches"] = dict(how)
    return rows


def first_rows(cfg: SkysetConfig, report: dict) -> list[dict]:
    zip_path = Path(cfg.first_zip) if cfg.first_zip else first.default_zip()
    if zip_path is None or not zip_path.is_file():
        report["missing_sources"]["first"] = (
            f"{cfg.first_zip or 'galaxy_data.zip'} not found: "
            "pip install firstgalaxydata, or pass --first-zip"
        )
        log.warning("first: skipped (%s)", report["missing_sources"]["first"])
        return []
    images = first.list_images(zip_path)
    consts = _constellations([i.ra_deg for i in images], [i.dec_deg for i in images])
    rows = []
    with zipfile.ZipFile(zip_path) as zf:
        for img, const in zip(images, consts):
            try:
                data = encode_image(zf.read(img.member), cfg.max_image_size)
            except IMAGE_ERRORS as exc:
                report["skipped_images"].append(
                    {
                        "source": "first",
                        "file": f"{zip_path}:{img.member}",
                        "reason": f"{type(exc).__name__}: {exc}",
                    }
                )
                continue
            rows.append(first.to_record(img, data, const))
    return rows


def hdf_rows(cfg: SkysetConfig) -> list[dict]:
    rows = []
    for i, (stamp, centre, _) in enumerate(hdf.detect_cutouts(cfg.hdf_cutouts)):
        buf = io.BytesIO()
        Image.fromarray(stamp).save(buf, format="PNG")
        rows.append(hdf.to_record(i, centre, buf.getvalue()))
    return rows


def catalog_rows(cfg: SkysetConfig, catalog, articles: dict[str, str], imaged: set[str]) -> list[dict]:
    if cfg.catalog == "none":
        return []
    rows = []
    for obj in catalog:
        keep = obj.object_id in imaged or (
            cfg.catalog == "all"
            and (cfg.catalog_max_mag is None or (math.isfinite(obj.mag) and obj.mag <= cfg.catalog_max_mag))
        )
        if keep:
            rows.append(openngc.to_record(obj, articles.get(obj.type)))
    return rows


# ---------------------------------------------------------------- build and save


def build_skyset(cfg: SkysetConfig, overwrite: bool = False) -> dict[str, Any]:
    """Build the skyset described by ``cfg`` into ``cfg.out``; returns the build report."""
    unknown = sorted(set(cfg.sources) - set(ALL_SOURCES))
    if unknown:
        raise UserError(f"sources: unknown {unknown}; expected some of {list(ALL_SOURCES)}")
    if Path(cfg.out).exists() and not overwrite:
        raise FileExistsError(f"{cfg.out} already exists (pass --overwrite to rebuild it)")
    t0 = time.perf_counter()
    report: dict[str, Any] = {"missing_sources": {}, "skipped_images": [], "timings_s": {}}
    catalog = openngc.load_catalog()
    names_dir = stellarium.find_stellarium_dir(cfg.stellarium_dir) if "stellarium" in cfg.sources else None
    if names_dir is not None:  # names.dat's common names for every object, with an image or not
        catalog = stellarium.with_common_names(catalog, stellarium.read_names_dat(names_dir))
    articles: dict[str, str] = {}
    kdir = kstars.find_kstars_dir(cfg.kstars_dir)
    if kdir is None:
        report["missing_sources"]["kstars"] = (
            "AstroInfo articles not found: run `make debian-data` (Debian's kstars-data) "
            "or pass --kstars_dir; texts are built without them"
        )
        log.warning("kstars: skipped (%s)", report["missing_sources"]["kstars"])
    else:
        articles = kstars.load_articles(kdir)
    rows: list[dict] = []
    steps = [
        ("stellarium", lambda: stellarium_rows(cfg, catalog, articles, report)),
        ("first", lambda: first_rows(cfg, report)),
        ("hdf", lambda: hdf_rows(cfg) if cfg.hdf_cutouts > 0 else []),
    ]
    for name, step in steps:
        if name in cfg.sources:
            t = time.perf_counter()
            rows += step()
            report["timings_s"][name] = round(time.perf_counter() - t, 2)
            log.info("%s: %d images", name, sum(r["source"] == name for r in rows))
    if "openngc" in cfg.sources:
        t = time.perf_counter()
        imaged = {r["object_id"] for r in rows}
        rows += catalog_rows(cfg, catalog, articles, imaged)
        report["timings_s"]["openngc"] = round(time.perf_counter() - t, 2)
    t = time.perf_counter()
    report.update(
        save_skyset(
            rows,
            cfg.out,
            report,
            seed=cfg.seed,
            fractions=(1 - cfg.val_fraction - cfg.test_fraction, cfg.val_fraction, cfg.test_fraction),
            overwrite=overwrite,
            config=cfg,
        )
    )
    report["timings_s"]["save"] = round(time.perf_counter() - t, 2)
    report["timings_s"]["total"] = round(time.perf_counter() - t0, 2)
    _write_report(Path(cfg.out), report)
    return report


def save_skyset(
    rows: list[dict],
    out_dir: str | Path,
    report: dict | None = None,
    seed: int = 0,
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
    overwrite: bool = False,
    config: Any = None,
) -> dict[str, Any]:
    """Split ``rows`` by object (stratified by the source of each object's first row), save them
    atomically as a DatasetDict with ``build_report.json``; returns the counts added to the report."""
    import datasets

    if not rows:
        raise UserError("nothing to save: every source was missing or empty (see the messages above)")
    rows = [dict.fromkeys(ACCESS_COLUMNS) | row for row in rows]
    for i, row in enumerate(rows):
        missing = [c for c in COLUMNS if c not in row]
        if missing:
            raise ValueError(f"row {i} ({row.get('id', '?')}): missing columns {missing}")
    ids = [r["id"] for r in rows]
    dupes = [k for k, n in Counter(ids).items() if n > 1]
    if dupes:
        raise ValueError(f"duplicate row ids: {dupes[:5]}")
    # images first so an object's group is its image source (keeps imaged objects spread over splits)
    order = sorted(range(len(rows)), key=lambda i: rows[i]["image"] is None)
    rows = [rows[i] for i in order]
    splits = assign_splits(
        [r["object_id"] for r in rows], seed=seed, fractions=fractions, groups=[r["source"] for r in rows]
    )
    counts = {
        "rows": len(rows),
        "splits": {s: splits.count(s) for s in SPLITS},
        "by_source": {
            s: dict(Counter(sp for r, sp in zip(rows, splits) if r["source"] == s))
            for s in sorted({r["source"] for r in rows})
        },
        "by_type": dict(Counter(r["type"] for r in rows).most_common()),
        "images": sum(r["image"] is not None for r in rows),
        "objects": len({r["object_id"] for r in rows}),
        "seed": seed,
        "fractions": list(fractions),
    }
    if config is not None:
        counts["config"] = to_dict(config)
    # from_dict, not from_list: an empty split (few objects) must still carry every column
    dd = datasets.DatasetDict(
        {
            s: datasets.Dataset.from_dict(
                {c: [r[c] for r, sp in zip(rows, splits) if sp == s] for c in COLUMNS}, features=FEATURES
            )
            for s in SPLITS
        }
    )
    full_report = {**(report or {}), **counts}
    with atomic_directory(out_dir, overwrite=overwrite) as tmp:
        dd.save_to_disk(str(tmp))
        _write_report(tmp, full_report)
    return counts


def _write_report(out: Path, report: dict) -> None:
    atomic_write_json(Path(out) / "build_report.json", report)
