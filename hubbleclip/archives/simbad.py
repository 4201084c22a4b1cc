"""SIMBAD bright objects (the object retrieval study): every object brighter than ``mag_limit``
in any of B, V, R or G, with names, type, position, magnitudes, up to ``papers_per_object``
papers (title + abstract from Crossref) and a grey ``image_size``² cut-out from hips2fits.

Requests: the object list in keyset pages (``oid > last``), references in batches of objects,
Crossref in batches of DOIs, one cut-out per object; the services run concurrently, each at its
own polite rate.  SIMBAD, Crossref abstracts and HiPS surveys are public, so every row is public
(``release_date`` and ``program_id`` stay null).
"""

from __future__ import annotations

import asyncio
import logging
import math
from pathlib import Path

import numpy as np

from hubbleclip.archives import crossref, hips2fits, images
from hubbleclip.archives.cache import ResponseCache
from hubbleclip.archives.client import ArchiveClient, FetchError
from hubbleclip.archives.common import (
    BuildReport,
    cache_dir,
    check_output,
    constellations,
    image_path,
    save,
    skip_on_error,
)
from hubbleclip.archives.config import SimbadConfig
from hubbleclip.archives.interrupt import run_async
from hubbleclip.archives.tap import tap_query
from hubbleclip.data.text import sexagesimal, template_caption
from hubbleclip.errors import UserError

log = logging.getLogger(__name__)

CREDIT = "SIMBAD (CDS, Strasbourg); abstracts via Crossref; image: {hips} via CDS hips2fits"

# SIMBAD object-type codes -> the normalised labels of hubbleclip.data.schema
TYPE_LABELS = {
    "**": "double star",
    "SB*": "double star",
    "EB*": "double star",
    "El*": "double star",
    "OpC": "open cluster",
    "Cl*": "open cluster",
    "GlC": "globular cluster",
    "As*": "stellar association",
    "PN": "planetary nebula",
    "HII": "HII region",
    "RNe": "reflection nebula",
    "DNe": "dark nebula",
    "GNe": "nebula",
    "ISM": "nebula",
    "SNR": "supernova remnant",
    "No*": "nova star",
    "G": "galaxy",
    "GiG": "galaxy",
    "GiC": "galaxy",
    "BiC": "galaxy",
    "SyG": "galaxy",
    "Sy1": "galaxy",
    "Sy2": "galaxy",
    "AGN": "galaxy",
    "LIN": "galaxy",
    "SBG": "galaxy",
    "EmG": "galaxy",
    "IG": "galaxy pair",
    "PaG": "galaxy pair",
    "GrG": "galaxy group",
}
# more specific words for the caption (the label stays coarse so classes are comparable)
KINDS = {
    "V*": "variable star",
    "Pu*": "pulsating variable star",
    "Ce*": "Cepheid variable",
    "RG*": "red giant",
    "AB*": "asymptotic giant branch star",
    "Mi*": "Mira variable",
    "LP*": "long-period variable",
    "Be*": "Be star",
    "WR*": "Wolf-Rayet star",
    "SG*": "supergiant",
    "s*r": "red supergiant",
    "s*b": "blue supergiant",
    "s*y": "yellow supergiant",
    "PM*": "high proper-motion star",
    "HB*": "horizontal branch star",
    "Em*": "emission-line star",
    "a2*": "alpha2 CVn variable",
    "bC*": "beta Cephei variable",
    "dS*": "delta Scuti variable",
    "Ro*": "rotating variable star",
    "El*": "ellipsoidal variable",
    "EB*": "eclipsing binary",
    "SB*": "spectroscopic binary",
    "C*": "carbon star",
    "S*": "S star",
    "Y*O": "young stellar object",
    "Or*": "Orion variable",
    "WD*": "white dwarf",
}


def _value(v):
    """A VOTable cell as a plain Python value, None when masked/NaN/empty."""
    if v is None or np.ma.is_masked(v):
        return None
    if isinstance(v, bytes):
        v = v.decode("utf-8", "replace")
    if isinstance(v, str):
        return v.strip() or None
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def objects_query(cfg: SimbadConfig, after_oid: int, top: int) -> str:
    bands = list(cfg.bands)
    cols = ", ".join(f'f."{b}"' for b in bands)
    bright = " OR ".join(f'f."{b}" < {cfg.mag_limit}' for b in bands)
    return (
        f"SELECT TOP {top} b.oid, b.main_id, b.ra, b.dec, b.otype, {cols}, i.ids "
        "FROM basic AS b JOIN allfluxes AS f ON f.oidref = b.oid JOIN ids AS i ON i.oidref = b.oid "
        f"WHERE ({bright}) AND b.oid > {after_oid} ORDER BY b.oid"
    )


def refs_query(cfg: SimbadConfig, oids: list[int]) -> str:
    return (
        "SELECT h.oidref, r.bibcode, r.doi, r.title, r.nbobject, r.year "
        "FROM has_ref AS h JOIN ref AS r ON r.oidbib = h.oidbibref "
        f"WHERE h.oidref IN ({', '.join(str(o) for o in oids)}) AND r.doi IS NOT NULL "
        f"AND r.nbobject <= {cfg.max_objects_per_paper}"
    )


def parse_object(row, bands: list[str]) -> dict:
    """One object row -> dict; ValueError naming what is wrong for a malformed row."""
    oid, main_id = _value(row["oid"]), _value(row["main_id"])
    ra, dec = _value(row["ra"]), _value(row["dec"])
    if oid is None or main_id is None:
        raise ValueError("no oid/main_id")
    if (
        not isinstance(ra, (int, float))
        or not isinstance(dec, (int, float))
        or not (0 <= ra < 360 and -90 <= dec <= 90)
    ):
        raise ValueError(f"bad position ra={ra!r} dec={dec!r}")
    mags = {b: float(_value(row[b])) for b in bands if isinstance(_value(row[b]), (int, float))}
    main_id = " ".join(main_id.split())
    names = [main_id]
    for ident in (_value(row["ids"]) or "").split("|"):
        ident = " ".join(ident.split())
        ident = ident[5:] if ident.startswith("NAME ") else ident
        if ident and ident not in names:
            names.append(ident)
    return {
        "oid": int(oid),
        "main_id": main_id,
        "ra": float(ra),
        "dec": float(dec),
        "otype": _value(row["otype"]) or "",
        "mags": mags,
        "names": names,
    }


async def fetch_objects(cfg: SimbadConfig, client: ArchiveClient, report: BuildReport) -> list[dict]:
    objects, last = [], -1
    while cfg.max_objects is None or len(objects) < cfg.max_objects:
        top = cfg.page_size if cfg.max_objects is None else min(cfg.page_size, cfg.max_objects - len(objects))
        table = await tap_query(client, "tap", cfg.tap_url, objects_query(cfg, last, top))
        if len(table) == 0:
            break
        for row in table:
            try:
                objects.append(parse_object(row, cfg.bands))
            except (ValueError, KeyError, TypeError) as exc:
                report.skip(
                    f"simbad oid {_value(row['oid']) if 'oid' in row.colnames else '?'}",
                    f"malformed row: {exc}",
                )
        oids = [_value(o) for o in table["oid"]]
        last = max(int(o) for o in oids if o is not None)
        if len(table) < top:
            break
    return objects


async def fetch_papers(
    cfg: SimbadConfig, client: ArchiveClient, objects: list[dict], report: BuildReport
) -> dict[int, list[dict]]:
    """oid -> up to ``papers_per_object`` papers (most specific first, then newest)."""
    oids = [o["oid"] for o in objects]
    batches = [oids[i : i + cfg.refs_batch] for i in range(0, len(oids), cfg.refs_batch)]
    tables = await asyncio.gather(
        *(
            skip_on_error(
                tap_query(client, "tap", cfg.tap_url, refs_query(cfg, b)),
                report,
                f"references of oids {b[0]}..{b[-1]}",
                default=[],
            )
            for b in batches
        )
    )
    refs: dict[int, list[dict]] = {}
    for table in tables:
        for row in table:
            oid, doi = _value(row["oidref"]), _value(row["doi"])
            if oid is None or doi is None:
                continue
            refs.setdefault(int(oid), []).append(
                {
                    "doi": doi.lower(),
                    "bibcode": _value(row["bibcode"]) or "",
                    "title": _value(row["title"]) or "",
                    "nbobject": _value(row["nbobject"]) or 0,
                    "year": _value(row["year"]) or 0,
                }
            )
    for oid, papers in refs.items():
        papers.sort(key=lambda p: (p["nbobject"], -p["year"], p["doi"]))
        refs[oid] = papers[: cfg.papers_per_object]
    # a comma would split the Crossref filter: such DOIs keep their SIMBAD title only
    dois = sorted({p["doi"] for papers in refs.values() for p in papers if "," not in p["doi"]})
    batches = [dois[i : i + cfg.doi_batch] for i in range(0, len(dois), cfg.doi_batch)]
    works: dict[str, dict] = {}
    for found in await asyncio.gather(
        *(
            skip_on_error(
                crossref.fetch_works(client, cfg.crossref_url, b, cfg.http.mailto),
                report,
                f"Crossref batch {b[0]}..{b[-1]}",
                default={},
            )
            for b in batches
        )
    ):
        works.update(found)
    report.notes["papers"] = {
        "dois": len(dois),
        "from_crossref": sum(d in works for d in dois),
        "simbad_title_only": sum(d not in works for d in dois),
    }
    for papers in refs.values():
        for p in papers:
            work = works.get(p["doi"])
            if work:
                p["title"], p["abstract"] = work["title"] or p["title"], work["abstract"]
            else:
                p["abstract"] = ""
    return refs


async def fetch_image(
    cfg: SimbadConfig, client: ArchiveClient, obj: dict, root: Path, report: BuildReport
) -> str | None:
    resp = await skip_on_error(
        hips2fits.cutout(
            client,
            cfg.hips2fits_url,
            obj["ra"],
            obj["dec"],
            hips=cfg.hips,
            size=cfg.image_size,
            fov_deg=cfg.fov_deg,
        ),
        report,
        f"image of {obj['main_id']}",
    )
    if resp is None:
        return None
    if not resp.ok:
        report.skip(f"image of {obj['main_id']}", f"hips2fits answered HTTP {resp.status}")
        return None
    path = image_path(root, resp.url)
    for done in (path.with_suffix(".jpg"), path.with_suffix(".png")):
        if done.exists():
            return str(done)
    try:
        return await asyncio.to_thread(images.store_grey, resp.body, cfg.image_size, path)
    except (OSError, SyntaxError, ValueError) as exc:
        report.skip(f"image of {obj['main_id']}", f"undecodable cut-out ({exc})")
        return None


def to_record(
    cfg: SimbadConfig, obj: dict, papers: list[dict], image: str | None, constellation: str
) -> dict:
    label = TYPE_LABELS.get(obj["otype"], "star" if "*" in obj["otype"] else "other")
    kind = KINDS.get(obj["otype"])
    mags = obj["mags"]
    mag = next((mags[b] for b in ("V", "B", "R", "G") if b in mags), float("nan"))
    mag_text = ", ".join(f"{b} {m:.2f}" for b, m in mags.items())
    head = (
        f"{obj['main_id']} ({', '.join(obj['names'][1:9])}): {kind or label} in {constellation}, "
        f"{sexagesimal(obj['ra'], obj['dec'])}; magnitudes {mag_text}."
    )
    text = "\n\n".join([head] + [f"{p['title']}. {p['abstract']}".strip() for p in papers])
    return {
        "id": f"simbad:{obj['main_id']}",
        "source": "simbad",
        "image": image,
        "object_id": obj["main_id"],
        "names": obj["names"],
        "type": label,
        "ra_deg": obj["ra"],
        "dec_deg": obj["dec"],
        "mag": mag,
        "text": text,
        "caption": template_caption(
            label, mag=mag, constellation=constellation, extra_objects=[kind] if kind else None
        ),
        "credit": CREDIT.format(hips=cfg.hips),
    }


async def collect(cfg: SimbadConfig, client: ArchiveClient, root: Path, report: BuildReport) -> list[dict]:
    objects = await fetch_objects(cfg, client, report)
    log.info("simbad: %d objects; fetching papers and cut-outs", len(objects))
    papers, cutouts = await asyncio.gather(
        fetch_papers(cfg, client, objects, report),
        asyncio.gather(*(fetch_image(cfg, client, o, root, report) for o in objects)),
    )
    consts = constellations([o["ra"] for o in objects], [o["dec"] for o in objects])
    return [to_record(cfg, o, papers.get(o["oid"], []), im, c) for o, im, c in zip(objects, cutouts, consts)]


def build(cfg: SimbadConfig, out_dir: Path, overwrite: bool = False) -> dict:
    check_output(out_dir, overwrite)
    root = cache_dir(cfg.http, "simbad")
    cache = ResponseCache(root / "responses.sqlite")
    report = BuildReport("simbad")
    limits = {"tap": cfg.tap, "crossref": cfg.crossref, "hips2fits": cfg.hips2fits}

    async def run():
        async with ArchiveClient(cache, cfg.http, limits) as client:
            try:
                return await collect(cfg, client, root, report), client.report()
            except FetchError as exc:
                raise UserError(str(exc)) from exc

    try:
        rows, stats = run_async(run())
    finally:
        cache.close()
    return save(rows, out_dir, report.as_dict(stats), cfg.seed, overwrite, cfg)
