"""Descriptions and template captions assembled from catalog fields.

Captions follow PAPERCLIP's "objects and phenomena; science use cases" shape, made as specific
as the catalog allows (type, Hubble type, size, brightness, constellation), since an unseen
object's name cannot be learned from its image.
"""

from __future__ import annotations

import math
from functools import lru_cache

from astropy import units as u
from astropy.coordinates import Angle

# science use cases per normalised type, used in template captions
USE_CASES = {
    "elliptical galaxy": "galaxy evolution, old stellar populations",
    "lenticular galaxy": "galaxy morphology, galaxy evolution",
    "spiral galaxy": "spiral structure, star formation in galaxies",
    "barred spiral galaxy": "bars and spiral structure, galaxy dynamics",
    "irregular galaxy": "dwarf galaxies, star formation",
    "galaxy": "galaxy morphology, extragalactic astronomy",
    "galaxy pair": "interacting galaxies, galaxy mergers",
    "galaxy triplet": "interacting galaxies, galaxy groups",
    "galaxy group": "galaxy groups and clusters, large-scale structure",
    "open cluster": "star clusters, stellar evolution",
    "globular cluster": "old stellar populations, galactic halo",
    "star cluster with nebula": "star formation, young stellar clusters",
    "stellar association": "young stars, star formation",
    "planetary nebula": "late stages of stellar evolution, ionized gas",
    "HII region": "star formation, ionized hydrogen",
    "emission nebula": "ionized gas, star formation",
    "reflection nebula": "interstellar dust, scattered starlight",
    "dark nebula": "interstellar dust, molecular clouds",
    "nebula": "interstellar medium, gas and dust",
    "supernova remnant": "supernova explosions, shock waves",
    "nova star": "stellar explosions, binary stars",
    "star": "stellar astrophysics",
    "double star": "binary stars, stellar masses",
    "FRI radio galaxy": "active galactic nuclei, radio jets",
    "FRII radio galaxy": "active galactic nuclei, radio lobes and hotspots",
    "compact radio source": "active galactic nuclei, compact radio emission",
    "bent-tail radio galaxy": "radio jets bent by the cluster medium, galaxy clusters",
    "galaxy cluster": "galaxy clusters, large-scale structure",
    "deep field source": "faint distant galaxies, galaxy evolution",
    "other": "astronomical objects",
}


def galaxy_class(hubble: str | None) -> str:
    """Normalised galaxy class from a de Vaucouleurs/Hubble type string (e.g. 'SABb', 'E3', 'IBm')."""
    h = (hubble or "").strip()
    if not h:
        return "galaxy"
    if h.startswith(("E", "cD", "dE")) and not h.startswith("E+"):
        return "elliptical galaxy"
    if h.startswith(("S0", "SA0", "SB0", "SAB0", "E+")):
        return "lenticular galaxy"
    if h.startswith(("I", "dI")):
        return "irregular galaxy"
    if h.startswith("SB"):
        return "barred spiral galaxy"
    if h.startswith("S"):
        return "spiral galaxy"
    return "galaxy"


@lru_cache(maxsize=1)
def constellation_names() -> dict[str, str]:
    """IAU abbreviation -> full name, from the table that ships with astropy."""
    from astropy.utils.data import get_pkg_data_filename

    path = get_pkg_data_filename("data/constellation_names.dat", package="astropy.coordinates")
    out = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("#") or not line.strip():
                continue
            abbr, name = line.strip().split(" ", 1)
            out[abbr] = name
    return out


# OpenNGC splits Serpens into its two parts, which the IAU table lists as one constellation
_SERPENS_PARTS = {"Se1": "Ser", "Se2": "Ser"}


def constellation_name(abbr: str | None) -> str:
    abbr = _SERPENS_PARTS.get(abbr or "", abbr or "")
    return constellation_names().get(abbr, abbr)


def sexagesimal(ra_deg: float, dec_deg: float) -> str:
    ra = Angle(ra_deg, u.deg).to_string(unit=u.hourangle, sep=":", precision=1, pad=True)
    dec = Angle(dec_deg, u.deg).to_string(unit=u.deg, sep=":", precision=0, alwayssign=True, pad=True)
    return f"RA {ra}, Dec {dec}"


def size_word(major_arcmin: float | None) -> str:
    if major_arcmin is None or not math.isfinite(major_arcmin):
        return ""
    if major_arcmin < 1:
        return "tiny"
    if major_arcmin < 5:
        return "small"
    if major_arcmin < 30:
        return "large"
    return "very large"


def brightness_word(mag: float | None) -> str:
    if mag is None or not math.isfinite(mag):
        return ""
    if mag <= 6:
        return "naked-eye"
    if mag <= 9:
        return "bright"
    if mag <= 12:
        return "moderately bright"
    return "faint"


def template_caption(
    type_label: str,
    *,
    hubble: str | None = None,
    major_arcmin: float | None = None,
    mag: float | None = None,
    constellation: str | None = None,
    extra_objects: list[str] | None = None,
) -> str:
    """'large bright barred spiral galaxy SABb in Canes Venatici; bars and spiral structure, ...'"""
    words = [w for w in (size_word(major_arcmin), brightness_word(mag), type_label) if w]
    obj = " ".join(words)
    if hubble and type_label.endswith("galaxy"):
        obj += f" {hubble}"
    if constellation:
        obj += f" in {constellation}"
    objects = ", ".join([obj, *(extra_objects or [])])
    return f"{objects}; {USE_CASES.get(type_label, USE_CASES['other'])}"


def fmt(value: float | None, digits: int = 2) -> str | None:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return None
    return f"{value:.{digits}f}"
