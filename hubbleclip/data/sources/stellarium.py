"""Stellarium's deep-sky images (``nebulae/default``) matched to OpenNGC objects.

``textures.json`` lists each image with its four corner coordinates and its credit.  It is not
strict JSON (numbers like ``-.9794``), so it is read with :func:`loads_lenient`.  Each image is
matched to an OpenNGC object by the designation in its file name first (``m31.png``,
``n7293.png``, ``ic418.png``, ``barnard22.png``) and by position second (the largest catalog
object near the image centre).

``names.dat`` gives deep-sky objects their common names, keyed by any catalogue's designation
(``M 57``, ``PGC 2557``): :func:`with_common_names` adds each to the OpenNGC object carrying that
designation, whether Stellarium has an image of it or not.  ``stars/default/name.fab`` and the
western sky culture's ``star_names.fab`` give named stars their Bayer and Flamsteed designations
(:func:`read_star_designations`).
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord

from hubbleclip.data.designations import designation_key
from hubbleclip.data.sources.openngc import CatalogObject
from hubbleclip.errors import UserError
from hubbleclip.io import cache_root

log = logging.getLogger(__name__)

LICENSE = "Stellarium (GPL-2+)"
SEARCH_PATHS = (
    "/usr/share/stellarium",
    "/usr/local/share/stellarium",
    "/opt/stellarium/share/stellarium",
    "/Applications/Stellarium.app/Contents/Resources",
    "C:/Program Files/Stellarium",
)

_STRING = re.compile(r'"(?:\\.|[^"\\])*"')
_BARE_FRACTION = re.compile(r"(?<![\w.])(-?)\.(\d)")
_TRAILING_COMMA = re.compile(r",(\s*[\]}])")

# file-name prefix -> (OpenNGC name prefix, zero-pad width) for designation matching
_NAME_PATTERNS = [
    (re.compile(r"^m(\d+)"), "M", 0),
    (re.compile(r"^n(\d+)"), "NGC", 4),
    (re.compile(r"^ic(\d+)"), "IC", 4),
    (re.compile(r"^barnard(\d+)"), "B", 3),
]
# types for images with no OpenNGC match, by file-name prefix
_PREFIX_TYPES = [
    ("sh2-", "HII region"),
    ("barnard", "dark nebula"),
    ("ldn", "dark nebula"),
    ("lbn", "emission nebula"),
    ("rcw", "HII region"),
    ("abell", "planetary nebula"),
    ("vdb", "reflection nebula"),
    ("lmc", "irregular galaxy"),
    ("smc", "irregular galaxy"),
    ("_cluster", "galaxy cluster"),
    ("snr", "supernova remnant"),
    ("cassiopeia_a", "supernova remnant"),
    ("velasnr", "supernova remnant"),
]
# names.dat catalogue prefixes that are not written "PREFIX NUMBER"
_NAMES_DAT_SPELLING = {"SH2": "Sh 2-{id}"}
# names.dat catalogue prefix for unmatched images
_NAMES_DAT_PREFIX = [
    (re.compile(r"^sh2-(\d+)"), "SH2"),
    (re.compile(r"^ldn(\d+)"), "LDN"),
    (re.compile(r"^lbn(\d+)"), "LBN"),
    (re.compile(r"^rcw(\d+)"), "RCW"),
    (re.compile(r"^barnard(\d+)"), "B"),
    (re.compile(r"^vdb(\d+)"), "VDB"),
]


def loads_lenient(text: str, source: str = "<string>"):
    """json.loads that accepts bare fractions (``-.97``) and trailing commas outside strings."""
    pieces, last = [], 0
    for m in _STRING.finditer(text):
        pieces.append(_fix(text[last : m.start()]))
        pieces.append(m.group(0))
        last = m.end()
    pieces.append(_fix(text[last:]))
    try:
        return json.loads("".join(pieces))
    except json.JSONDecodeError as exc:
        raise UserError(
            f"{source}: not valid JSON even when read leniently "
            f"(line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from exc


def _fix(chunk: str) -> str:
    return _TRAILING_COMMA.sub(r"\1", _BARE_FRACTION.sub(r"\g<1>0.\2", chunk))


def find_stellarium_dir(explicit: str | os.PathLike | None = None) -> Path | None:
    """The Stellarium data folder (the one holding ``nebulae/default``), or None."""
    candidates = [Path(explicit)] if explicit else []
    if not explicit:
        if os.environ.get("STELLARIUM_DATA_DIR"):
            candidates.append(Path(os.environ["STELLARIUM_DATA_DIR"]))
        candidates.append(cache_root("debian", "root", "usr", "share", "stellarium"))
        candidates += [Path(p) for p in SEARCH_PATHS]
    for path in candidates:
        if (path / "nebulae" / "default" / "textures.json").is_file():
            return path
    return None


@dataclass
class StellariumImage:
    file: Path
    credit: str
    corners: np.ndarray  # (4, 2) RA/Dec degrees
    center: SkyCoord
    size_deg: float  # largest corner-to-corner separation


def read_textures(stellarium_dir: Path) -> list[StellariumImage]:
    neb = stellarium_dir / "nebulae" / "default"
    path = neb / "textures.json"
    data = loads_lenient(path.read_text(encoding="utf-8"), str(path))
    tiles = data.get("subTiles")
    if not isinstance(tiles, list):
        raise UserError(f"{path}: expected a 'subTiles' list")
    out = []
    for i, tile in enumerate(tiles):
        try:
            url = tile["imageUrl"]
            corners = np.asarray(tile["worldCoords"][0], dtype=float)
            if corners.shape != (4, 2):
                raise ValueError(f"worldCoords has shape {corners.shape}, expected 4 corners")
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("%s: subTiles[%d] skipped (%s)", path, i, exc)
            continue
        credits = tile.get("imageCredits") or {}
        short = credits.get("short") or credits.get("Short") or "unknown"
        info = credits.get("infoUrl")
        corner_coords = SkyCoord(corners[:, 0] * u.deg, corners[:, 1] * u.deg)
        cart = corner_coords.cartesian.mean()
        center = SkyCoord(cart, representation_type="cartesian").spherical
        center = SkyCoord(center.lon, center.lat)
        seps = [corner_coords[a].separation(corner_coords[b]).deg for a in range(4) for b in range(a + 1, 4)]
        credit = f"{short}" + (f" ({info})" if info else "") + f"; {LICENSE}"
        out.append(StellariumImage(neb / url, credit, corners, center, float(max(seps))))
    return out


def read_names_dat(stellarium_dir: Path) -> dict[tuple[str, str], list[str]]:
    """(catalogue prefix, id) -> common names, from ``nebulae/default/names.dat``."""
    path = stellarium_dir / "nebulae" / "default" / "names.dat"
    names: dict[tuple[str, str], list[str]] = {}
    if not path.is_file():
        return names
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("#") or len(line) < 21:
            continue
        m = re.search(r'_\("(.+?)"\)', line)
        if m:
            names.setdefault((line[:5].strip(), line[5:20].strip()), []).append(m.group(1))
    return names


def names_dat_designation(prefix: str, ident: str) -> str:
    """A names.dat key as a designation: ('NGC', '224') -> 'NGC 224', ('SH2', '1') -> 'Sh 2-1'."""
    return _NAMES_DAT_SPELLING.get(prefix, "{prefix} {id}").format(prefix=prefix, id=ident)


def with_common_names(
    catalog: tuple[CatalogObject, ...], names_dat: dict[tuple[str, str], list[str]]
) -> tuple[CatalogObject, ...]:
    """The catalog with each names.dat name added to every object carrying its designation, as a
    name, an identifier or a cross-id ('M 57' -> NGC 6720, 'PGC 2557' -> NGC 224)."""
    by_key: dict[str, list[int]] = defaultdict(list)
    for i, obj in enumerate(catalog):
        for alias in (obj.object_id, *obj.names, *obj.identifiers):
            key = designation_key(alias)
            if key and i not in by_key[key]:
                by_key[key].append(i)
    extra: dict[int, list[str]] = defaultdict(list)
    for (prefix, ident), names in names_dat.items():
        for i in by_key.get(designation_key(names_dat_designation(prefix, ident)) or "", []):
            extra[i] += names
    out = list(catalog)
    for i, names in extra.items():
        seen = {n.lower() for n in catalog[i].names}
        new = [n for n in dict.fromkeys(names) if n.lower() not in seen]
        out[i] = replace(catalog[i], names=catalog[i].names + new)
    return tuple(out)


def read_star_designations(stellarium_dir: Path) -> dict[str, list[str]]:
    """Proper star name (lower case) -> its Bayer and Flamsteed designations, joined by Hipparcos
    number: 'albireo' -> ['β1 Cyg', '6 Cyg', 'β Cyg'].  A designation with a component number
    ('α1 Cen') also stands for the plain letter ('α Cen') unless another star has that one.
    Empty when Stellarium's ``name.fab`` or western ``star_names.fab`` is missing."""
    names_path = stellarium_dir / "skycultures" / "western" / "star_names.fab"
    designations_path = stellarium_dir / "stars" / "default" / "name.fab"
    if not (names_path.is_file() and designations_path.is_file()):
        return {}
    by_hip: dict[str, list[str]] = defaultdict(list)
    for line in designations_path.read_text(encoding="utf-8").splitlines():
        hip, _, designation = line.partition("|")
        parts = designation.strip().split("_")
        if parts[2:] not in ([], ["A"]):
            continue  # a companion ('α_Cen_C' is Proxima); the primary ('61_Cyg_A') keeps the name
        if len(parts) >= 2 and (parts[0].isdigit() or not parts[0][0].isascii()):
            by_hip[hip.strip()].append(f"{parts[0]} {parts[1]}")
    plain = {d for ds in by_hip.values() for d in ds}
    for ds in by_hip.values():
        ds += [b for d in ds if (b := _without_component(d)) not in plain]
    # a name given to two stars ('Alcor') goes to the one more of Stellarium's sources use it for
    best: dict[str, tuple[int, str]] = {}
    for line in names_path.read_text(encoding="utf-8").splitlines():
        m = re.match(r'\s*(\d+)\|_\("(.+?)"\)\s*([\d,]*)', line)
        if m and m.group(1) in by_hip:
            sources = len(m.group(3).split(",")) if m.group(3) else 0
            name = m.group(2).lower()
            if name not in best or sources > best[name][0]:
                best[name] = (sources, m.group(1))
    return {name: list(dict.fromkeys(by_hip[hip])) for name, (_, hip) in best.items()}


def _without_component(designation: str) -> str:
    """'α1 Cen' -> 'α Cen'; a Flamsteed number or a plain letter is returned as it is."""
    head, const = designation.split(" ", 1)
    return designation if head.isdigit() else f"{head.rstrip('0123456789')} {const}"


def designation_from_filename(stem: str) -> str | None:
    """'m31' -> 'M31', 'n7293' -> 'NGC7293', 'ic418' -> 'IC0418', 'barnard22' -> 'B022'."""
    for pattern, prefix, width in _NAME_PATTERNS:
        m = pattern.match(stem.lower())
        if m:
            return f"{prefix}{int(m.group(1))}" if prefix == "M" else f"{prefix}{int(m.group(1)):0{width}d}"
    return None


class Matcher:
    """Match images to OpenNGC objects by designation, then by position."""

    def __init__(self, catalog: tuple[CatalogObject, ...]):
        self.by_name = {o.object_id: o for o in catalog}
        self.by_messier = {o.messier: o for o in catalog if o.messier}
        self.catalog = catalog
        self.coords = SkyCoord([o.ra_deg for o in catalog] * u.deg, [o.dec_deg for o in catalog] * u.deg)
        self.major = np.array([o.major_arcmin or 0.0 for o in catalog])

    def match(self, image: StellariumImage) -> tuple[CatalogObject | None, str]:
        designation = designation_from_filename(image.file.stem)
        if designation:
            is_messier = designation.startswith("M")
            obj = self.by_messier.get(int(designation[1:])) if is_messier else self.by_name.get(designation)
            if obj is not None:
                return obj, "name"
        # the dominant catalog object near the image centre, if it fills a good part of the frame
        # (so a galaxy-cluster field or an LMC mosaic tile is not pinned on one small member)
        radius = max(0.1 * image.size_deg, 2 / 60)
        sep = image.center.separation(self.coords).deg
        near = np.flatnonzero((sep <= radius) & (self.major / 60 >= 0.15 * image.size_deg))
        if len(near):
            best = near[np.argmax(self.major[near] - 1e-3 * sep[near])]
            return self.catalog[best], "position"
        return None, "none"


_CREDIT_SUFFIX = re.compile(r"-(vasey|trev|sdss\d*|dss|ha)$")
_TILE_PATTERNS = [
    re.compile(r"^(sh2-\d+)-\d+$"),
    re.compile(r"^(rho-a)\d\d$"),
    re.compile(r"^(.*[a-z])[-_]\d{1,2}$"),
    re.compile(r"^(smc\d+)-\d+$"),
    re.compile(r"^(ic\d+)-\d+$"),
]


def group_stem(stem: str) -> str:
    """One key for the tiles of one object: 'lmc_05' -> 'lmc', 'sh2-1-2' -> 'sh2-1', 'm51-vasey' -> 'm51'."""
    s = _CREDIT_SUFFIX.sub("", stem.lower())
    for pattern in _TILE_PATTERNS:
        m = pattern.match(s)
        if m:
            return m.group(1)
    return s


def unmatched_type(stem: str) -> str:
    s = stem.lower()
    for prefix, label in _PREFIX_TYPES:
        if prefix in s:
            return label
    return "nebula"


_KNOWN_NAMES = {
    "lmc": "Large Magellanic Cloud",
    "smc": "Small Magellanic Cloud",
    "smc29": "Small Magellanic Cloud",
    "rho-a": "Rho Ophiuchi cloud complex",
    "barnard_loop": "Barnard's Loop",
    "velasnr": "Vela Supernova Remnant",
    "gammacygni": "Gamma Cygni Nebula",
    "medusa": "Medusa Nebula",
    "red_rectangle": "Red Rectangle Nebula",
    "calabash": "Calabash Nebula",
    "cassiopeia_a": "Cassiopeia A",
    "darkshark": "Dark Shark Nebula",
    "jones-emberson1": "Jones-Emberson 1",
}


def unmatched_names(stem: str, names_dat: dict[tuple[str, str], list[str]]) -> list[str]:
    s = stem.lower()
    if group_stem(s) in _KNOWN_NAMES:
        return [_KNOWN_NAMES[group_stem(s)]]
    for pattern, prefix in _NAMES_DAT_PREFIX:
        m = pattern.match(s)
        if m:
            ident = str(int(m.group(1)))
            return [names_dat_designation(prefix, ident), *names_dat.get((prefix, ident), [])]
    return [re.sub(r"[-_]+", " ", group_stem(stem)).strip().title()]
