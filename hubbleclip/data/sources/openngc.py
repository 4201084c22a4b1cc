"""OpenNGC (NGC/IC + addendum objects) from the SQLite database inside the ``pyongc`` package.

The database stores RA/Dec in radians; records here carry degrees.  Duplicated (``Dup``) and
non-existent (``NonEx``) entries are dropped.
"""

from __future__ import annotations

import importlib.util
import math
import re
import sqlite3
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from hubbleclip.data.schema import OPENNGC_TYPES
from hubbleclip.data.text import constellation_name, fmt, galaxy_class, sexagesimal, template_caption

CREDIT = "OpenNGC catalog (Mattia Verga, CC-BY-SA-4.0) via pyongc"
DROPPED_TYPES = ("Dup", "NonEx")
MAG_BANDS = ("vmag", "bmag", "jmag", "hmag", "kmag")


@dataclass
class CatalogObject:
    object_id: str  # OpenNGC name, e.g. "NGC0224"
    names: list[str]  # display names, primary first: "NGC 224", "M31", "Andromeda Galaxy"
    code: str  # OpenNGC type code
    type: str  # normalised label
    type_desc: str  # OpenNGC's own description of the code
    ra_deg: float
    dec_deg: float
    constellation: str  # full IAU name
    major_arcmin: float | None
    minor_arcmin: float | None
    pa_deg: float | None
    mags: dict[str, float] = field(default_factory=dict)
    hubble: str | None = None
    redshift: float | None = None
    radvel: float | None = None
    identifiers: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    messier: int | None = None

    @property
    def mag(self) -> float:
        for band in ("V", "B", "J", "H", "K"):
            if band in self.mags:
                return self.mags[band]
        return float("nan")


def database_path() -> Path:
    spec = importlib.util.find_spec("pyongc")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the pyongc package is not installed: pip install pyongc")
    path = Path(spec.submodule_search_locations[0]) / "ongc.db"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: OpenNGC database missing from the pyongc package")
    return path


def display_name(name: str) -> str:
    """'NGC0224' -> 'NGC 224', 'IC0418' -> 'IC 418', 'B033' -> 'B 33', 'NGC5195A' -> 'NGC 5195A'."""
    m = re.fullmatch(r"([A-Za-z]+)0*(\d+)(.*)", name)
    return f"{m.group(1)} {m.group(2)}{m.group(3)}" if m else name


def _num(v) -> float | None:
    if v is None or v == "":
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _row_to_object(row: sqlite3.Row, type_desc: dict[str, str]) -> CatalogObject:
    code = row["type"]
    label = OPENNGC_TYPES.get(code, "other")
    if code == "G":
        label = galaxy_class(row["hubble"])
    names = [display_name(row["name"])]
    messier = int(row["messier"]) if row["messier"] else None
    if messier:
        names.append(f"M{messier}")
    for col, prefix in (("ngc", "NGC"), ("ic", "IC")):
        for cross in filter(None, (row[col] or "").split(",")):
            names.append(display_name(f"{prefix}{cross.strip()}"))
    names += [n.strip() for n in (row["commonnames"] or "").split(",") if n.strip()]
    mags = {band[0].upper(): _num(row[band]) for band in MAG_BANDS}
    return CatalogObject(
        object_id=row["name"],
        names=list(dict.fromkeys(names)),
        code=code,
        type=label,
        type_desc=type_desc.get(code, code),
        ra_deg=math.degrees(row["ra"]),
        dec_deg=math.degrees(row["dec"]),
        constellation=constellation_name(row["const"]),
        major_arcmin=_num(row["majax"]),
        minor_arcmin=_num(row["minax"]),
        pa_deg=_num(row["pa"]),
        mags={k: v for k, v in mags.items() if v is not None},
        hubble=row["hubble"] or None,
        redshift=_num(row["redshift"]),
        radvel=_num(row["radvel"]),
        identifiers=[i.strip() for i in (row["identifiers"] or "").split(",") if i.strip()],
        notes=[n for n in (row["nednotes"], row["ongcnotes"]) if n],
        messier=messier,
    )


@lru_cache(maxsize=2)
def load_catalog(db_path: str | None = None) -> tuple[CatalogObject, ...]:
    """Every OpenNGC object with coordinates, minus duplicates and non-existent entries."""
    con = sqlite3.connect(f"file:{db_path or database_path()}?mode=ro", uri=True)
    con.row_factory = sqlite3.Row
    try:
        type_desc = dict(con.execute("SELECT type, typedesc FROM objTypes").fetchall())
        rows = con.execute(
            f"SELECT * FROM objects WHERE type NOT IN ({','.join('?' * len(DROPPED_TYPES))}) "
            "AND ra IS NOT NULL AND dec IS NOT NULL ORDER BY name",
            DROPPED_TYPES,
        ).fetchall()
    finally:
        con.close()
    return tuple(_row_to_object(r, type_desc) for r in rows)


def describe(obj: CatalogObject, article: str | None = None) -> str:
    """A long description from every available catalog field (plus a short article on its type)."""
    parts = [f"{obj.names[0]}"]
    if len(obj.names) > 1:
        parts[0] += f" (also {', '.join(obj.names[1:])})"
    parts[0] += f" is a {obj.type}"
    if obj.type != obj.type_desc.lower():
        parts[0] += f" (OpenNGC type: {obj.type_desc})"
    parts[0] += f" in the constellation {obj.constellation}." if obj.constellation else "."
    if obj.hubble:
        parts.append(f"Its morphological (Hubble) type is {obj.hubble}.")
    parts.append(f"Position: {sexagesimal(obj.ra_deg, obj.dec_deg)} (J2000).")
    if obj.major_arcmin:
        size = f"{fmt(obj.major_arcmin)}'"
        if obj.minor_arcmin:
            size += f" x {fmt(obj.minor_arcmin)}'"
        parts.append(
            f"Apparent size {size}"
            + (f", position angle {obj.pa_deg:.0f} deg." if obj.pa_deg is not None else ".")
        )
    if obj.mags:
        parts.append("Magnitudes: " + ", ".join(f"{b} {m:.2f}" for b, m in obj.mags.items()) + ".")
    if obj.redshift is not None:
        parts.append(
            f"Redshift z = {obj.redshift:g}"
            + (f", radial velocity {obj.radvel:.0f} km/s." if obj.radvel is not None else ".")
        )
    if obj.identifiers:
        parts.append("Other identifiers: " + ", ".join(obj.identifiers) + ".")
    parts += [n.rstrip(".") + "." for n in obj.notes]
    if article:
        parts.append(article)
    return " ".join(parts)


def caption(obj: CatalogObject) -> str:
    return template_caption(
        obj.type,
        hubble=obj.hubble,
        major_arcmin=obj.major_arcmin,
        mag=obj.mag,
        constellation=obj.constellation,
    )


def to_record(obj: CatalogObject, article: str | None = None) -> dict:
    """A catalog-only record (no image) in the shared schema."""
    return {
        "id": f"openngc:{obj.object_id}",
        "source": "openngc",
        "image": None,
        "object_id": obj.object_id,
        "names": obj.names,
        "type": obj.type,
        "ra_deg": obj.ra_deg,
        "dec_deg": obj.dec_deg,
        "mag": obj.mag,
        "text": describe(obj, article),
        "caption": caption(obj),
        "credit": CREDIT,
    }
