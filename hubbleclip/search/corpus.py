"""The retrieval corpus: one entry per sky object.

Skyset rows are grouped by ``object_id``: the OpenNGC catalog row gives names, text, type and
magnitude; Stellarium (and FIRST, HDF) rows give the images of the same object.  Rows of one object
with a different access key (release date, program) form an entry of their own, so no entry mixes
proprietary data into public names, texts or image vectors (see :mod:`hubbleclip.access`).  Named bright
stars from the ``ephem`` star list (which ships offline, J2000 positions and V magnitudes) are
added as objects of type "star", since OpenNGC covers only deep-sky objects; where Stellarium's
data is found, they also carry their Bayer and Flamsteed designations (``β Cyg``, ``6 Cyg``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from hubbleclip.access.policy import AccessTable
from hubbleclip.data.schema import ACCESS_COLUMNS, COLUMNS
from hubbleclip.data.sources.openngc import load_catalog
from hubbleclip.data.sources.stellarium import find_stellarium_dir, read_star_designations
from hubbleclip.data.text import sexagesimal, template_caption
from hubbleclip.errors import UserError

CORPUS_COLUMNS = tuple(c for c in COLUMNS if c not in ("credit", *ACCESS_COLUMNS))  # access: optional


@dataclass
class Corpus:
    object_id: list[str]
    names: list[list[str]]
    type: list[str]
    source: list[str]  # source of the object's first row (openngc, stellarium, first, star, ...)
    split: list[str]  # skyset split of the object; "" for the added stars
    ra_deg: np.ndarray
    dec_deg: np.ndarray
    mag: np.ndarray  # NaN where unknown
    size_arcmin: np.ndarray  # OpenNGC major axis; NaN where unknown
    constellation: list[str]
    text: list[str]
    caption: list[str]
    identifiers: list[list[str]]  # other catalogue identifiers (OpenNGC's UGC, PGC, ESO, Caldwell, ...)
    image_rows: list[list[tuple[str, int]]] = field(default_factory=list)  # (split, row) of each image
    image_ids: list[list[str]] = field(default_factory=list)  # dataset row ids of the images
    release_date: list = field(default_factory=list)  # datetime.date or None (public) per entry
    program_id: list = field(default_factory=list)  # owning program id or None per entry

    def __len__(self) -> int:
        return len(self.object_id)

    def bm25_names(self) -> list[str]:
        return [" ; ".join(n) for n in self.names]

    def bm25_texts(self) -> list[str]:
        return [f"{t} {c}" for t, c in zip(self.text, self.caption)]

    def clip_texts(self) -> list[str]:
        """What the CLIP text tower sees for each object: its best-known names and its caption."""
        return [f"{', '.join(n[:3])}: {c}" for n, c in zip(self.names, self.caption)]

    def unit_vectors(self) -> np.ndarray:
        return radec_to_xyz(self.ra_deg, self.dec_deg)

    def access(self):
        """The entries' :class:`hubbleclip.access.policy.AccessTable` (all public when unknown)."""
        if not self.release_date:
            return AccessTable.public(len(self))
        return AccessTable.from_rows(self.release_date, self.program_id)


def radec_to_xyz(ra_deg, dec_deg) -> np.ndarray:
    ra, dec = np.radians(np.asarray(ra_deg, float)), np.radians(np.asarray(dec_deg, float))
    return np.stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)], axis=-1)


def constellations(ra_deg, dec_deg) -> list[str]:
    from astropy import units as u
    from astropy.coordinates import SkyCoord

    ra_deg, dec_deg = np.asarray(ra_deg, float), np.asarray(dec_deg, float)
    known = np.isfinite(ra_deg) & np.isfinite(dec_deg)  # Hubble Deep Field cut-outs carry no position
    out = [""] * len(ra_deg)
    if known.any():
        names = SkyCoord(ra_deg[known] * u.deg, dec_deg[known] * u.deg).get_constellation()
        for i, name in zip(np.flatnonzero(known), names):
            out[i] = str(name).strip()  # astropy writes "Crux " with a space
    return out


def _major_axes() -> dict[str, float]:
    return {o.object_id: o.major_arcmin for o in load_catalog() if o.major_arcmin}


def _identifiers() -> dict[str, list[str]]:
    return {o.object_id: o.identifiers for o in load_catalog() if o.identifiers}


def corpus_from_dataset(dsd, include_stars: bool = True) -> Corpus:
    """Group the rows of a skyset ``DatasetDict`` by object (plus the named bright stars)."""
    objects: dict[str, dict] = {}
    for split in dsd:
        ds = dsd[split]
        missing = set(CORPUS_COLUMNS) - set(ds.column_names)
        if missing:
            raise UserError(
                f"dataset split {split!r}: missing column(s) {sorted(missing)}; "
                "expected the skyset record format"
            )
        has_image = np.asarray(ds.data.column("image").is_valid())
        access = [c for c in ACCESS_COLUMNS if c in ds.column_names]
        meta = ds.select_columns([c for c in CORPUS_COLUMNS if c != "image"] + access)
        for row, (rec, img) in enumerate(zip(meta.to_list(), has_image)):
            rec.setdefault("release_date", None)
            rec.setdefault("program_id", None)
            key = (rec["object_id"], rec["release_date"], rec["program_id"])
            obj = objects.get(key)
            if obj is None:
                obj = objects[key] = {
                    **rec,
                    "split": split,
                    "names": list(rec["names"] or []),
                    "image_rows": [],
                    "image_ids": [],
                }
            else:
                obj["names"] = obj["names"] + list(rec["names"] or [])
                if rec["source"] == "openngc":  # the catalog row carries the fullest text
                    obj.update(text=rec["text"], caption=rec["caption"], type=rec["type"])
                if not _finite(obj["mag"]) and _finite(rec["mag"]):
                    obj["mag"] = rec["mag"]
            if img:
                obj["image_rows"].append((split, row))
                obj["image_ids"].append(rec["id"])
    rows = list(objects.values())
    if include_stars:
        rows += star_records()
    sizes, identifiers = _major_axes(), _identifiers()
    ra = np.array([r["ra_deg"] for r in rows], float)
    dec = np.array([r["dec_deg"] for r in rows], float)
    return Corpus(
        object_id=[r["object_id"] for r in rows],
        names=[unique_names(r["names"]) or [r["object_id"]] for r in rows],
        type=[r["type"] for r in rows],
        source=[r["source"] for r in rows],
        split=[r["split"] for r in rows],
        ra_deg=ra,
        dec_deg=dec,
        mag=np.array([r["mag"] if _finite(r["mag"]) else np.nan for r in rows], np.float32),
        size_arcmin=np.array([sizes.get(r["object_id"], np.nan) for r in rows], np.float32),
        constellation=constellations(ra, dec),
        text=[r["text"] for r in rows],
        caption=[r["caption"] for r in rows],
        identifiers=[identifiers.get(r["object_id"], []) for r in rows],
        image_rows=[r["image_rows"] for r in rows],
        image_ids=[r["image_ids"] for r in rows],
        release_date=[r["release_date"] for r in rows],
        program_id=[r["program_id"] for r in rows],
    )


def unique_names(names: list[str]) -> list[str]:
    """Names in order, without repeats that differ only in case or surrounding spaces."""
    seen, out = set(), []
    for name in (n.strip() for n in names):
        if name and name.lower() not in seen:
            seen.add(name.lower())
            out.append(name)
    return out


def _finite(x) -> bool:
    return x is not None and math.isfinite(x)


def star_records() -> list[dict]:
    """The named bright stars of the ``ephem`` list, aliases (same position) merged into one object,
    with the designations Stellarium gives them (none when no Stellarium data is found)."""
    from ephem.stars import db

    stellarium_dir = find_stellarium_dir()
    designations = read_star_designations(stellarium_dir) if stellarium_dir else {}

    by_position: dict[tuple[str, str], dict] = {}
    for line in db.strip().splitlines():
        name, kind, ra, dec, mag = line.split(",")[:5]
        key = (ra, dec)
        if key in by_position:
            by_position[key]["names"].append(name)
            continue
        spectral = kind.split("|")[-1] if kind.count("|") >= 2 else ""
        by_position[key] = {
            "names": [name],
            "ra_deg": float(ra.split("|")[0]) * 15.0,
            "dec_deg": float(dec.split("|")[0]),
            "mag": float(mag),
            "spectral": spectral,
        }
    records = []
    consts = constellations(
        [s["ra_deg"] for s in by_position.values()], [s["dec_deg"] for s in by_position.values()]
    )
    for star, const in zip(by_position.values(), consts):
        found = [d for n in star["names"] for d in designations.get(n.lower(), [])]
        names = unique_names(star["names"] + found)
        text = (
            f"{names[0]}"
            + (f" (also {', '.join(names[1:])})" if len(names) > 1 else "")
            + " is a named bright star"
            + (f" of spectral type {star['spectral']}" if star["spectral"] else "")
            + f" in the constellation {const}. "
            f"Position: {sexagesimal(star['ra_deg'], star['dec_deg'])} (J2000). "
            f"Magnitude V {star['mag']:.2f}."
        )
        records.append(
            {
                "id": f"star:{names[0]}",
                "source": "star",
                "object_id": f"star:{names[0]}",
                "names": names,
                "type": "star",
                "ra_deg": star["ra_deg"],
                "dec_deg": star["dec_deg"],
                "mag": star["mag"],
                "text": text,
                "caption": template_caption("star", mag=star["mag"], constellation=const),
                "split": "",
                "image_rows": [],
                "image_ids": [],
                "release_date": None,
                "program_id": None,
            }
        )
    return records
