"""FIRST radio galaxies (FRI / FRII / Compact / Bent) from the ``firstgalaxydata`` wheel.

The wheel ships ``galaxy_data.zip`` with 300x300 grey PNGs under ``{train,valid,test}/{label}/``,
named ``RA_Dec_labelindex_catalogue.png``.  The module itself imports torchvision and h5py, so
the zip is located with importlib and read directly.  The package's own train/valid/test copies
overlap; images are de-duplicated by (RA, Dec, label).
"""

from __future__ import annotations

import importlib.util
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

from hubbleclip.data.schema import FIRST_CLASSES
from hubbleclip.data.text import sexagesimal, template_caption

CREDIT = (
    "FIRST survey (Becker, White & Helfand 1995), images via firstgalaxydata "
    "(Griese et al. 2023, MIT); label from {catalogue}"
)
_NAME = re.compile(r"^(?P<ra>-?\d+(?:\.\d+)?)_(?P<dec>-?\d+(?:\.\d+)?)_(?P<label>\d+)_(?P<cat>[^/]+)\.png$")

CLASS_TEXT = {
    "FRI": "Fanaroff-Riley class I radio galaxies are edge-darkened: their radio emission is brightest "
    "near the core and fades along two-sided jets.",
    "FRII": "Fanaroff-Riley class II radio galaxies are edge-brightened: powerful jets end in bright "
    "hotspots at the outer edges of two radio lobes.",
    "Compact": "Compact radio sources are unresolved or barely resolved at FIRST's 5 arcsec resolution, "
    "typically radio-loud active nuclei without extended lobes.",
    "Bent": "Bent-tail radio galaxies have jets swept back by ram pressure as the host galaxy moves "
    "through the hot gas of a galaxy cluster.",
}


@dataclass
class FirstImage:
    member: str  # path inside the zip
    ra_deg: float
    dec_deg: float
    label: str  # FRI / FRII / Compact / Bent
    catalogue: str  # where the label comes from (e.g. MiraBest, Gendre, Baldi2018)


def default_zip() -> Path | None:
    spec = importlib.util.find_spec("firstgalaxydata")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(spec.submodule_search_locations[0]) / "galaxy_data.zip"
    return path if path.is_file() else None


def list_images(zip_path: Path) -> list[FirstImage]:
    """Unique images in the zip, in a stable order."""
    seen: dict[tuple[float, float, str], FirstImage] = {}
    with zipfile.ZipFile(zip_path) as zf:
        for member in sorted(zf.namelist()):
            parts = member.split("/")
            if len(parts) < 3 or parts[-2] not in FIRST_CLASSES:
                continue
            m = _NAME.match(parts[-1])
            if not m:
                continue
            key = (round(float(m["ra"]), 3), round(float(m["dec"]), 3), parts[-2])
            seen.setdefault(key, FirstImage(member, float(m["ra"]), float(m["dec"]), parts[-2], m["cat"]))
    return list(seen.values())


def object_id(img: FirstImage) -> str:
    return f"FIRST:{img.ra_deg:.3f}{img.dec_deg:+.3f}"


def to_record(img: FirstImage, image_bytes: bytes, constellation: str) -> dict:
    label = FIRST_CLASSES[img.label]
    where = sexagesimal(img.ra_deg, img.dec_deg)
    text = (
        f"A {label} observed by the FIRST radio survey at 1.4 GHz, at {where} (J2000) in the "
        f"constellation {constellation}. {CLASS_TEXT[img.label]} Morphology label from {img.catalogue}."
    )
    return {
        "id": f"first:{img.ra_deg:.3f}{img.dec_deg:+.3f}:{img.label}",
        "source": "first",
        "image": {"bytes": image_bytes, "path": None},
        "object_id": object_id(img),
        "names": [f"FIRST {img.ra_deg:.3f}{img.dec_deg:+.3f}"],
        "type": label,
        "ra_deg": img.ra_deg,
        "dec_deg": img.dec_deg,
        "mag": float("nan"),
        "text": text,
        "caption": template_caption(label, extra_objects=["radio continuum image"]),
        "credit": CREDIT.format(catalogue=img.catalogue),
    }
