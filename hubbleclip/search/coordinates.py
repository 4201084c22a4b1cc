"""Sky positions and search radii typed as text, parsed by astropy.

Accepted positions (ICRS unless galactic):

* sexagesimal: ``13 29 52.7 +47 11 43``, ``13h29m52.7s +47d11m43s``, ``13:29:52.7 +47:11:43``
  (RA in hours), also with fewer fields (``13 29.9 +47 12``);
* decimal degrees: ``202.47 47.195``, ``202.47, +47.195``;
* galactic: ``l=121.17 b=-21.57`` or ``galactic 121.17 -21.57``;
* key-value: ``ra=202.47 dec=47.195`` (degrees) or ``ra=13:29:52.7 dec=+47:11:43``,
  ``ra=13h29m52.7s dec=47d11m43s`` (sexagesimal RA in hours unless marked ``d``/``°``),
  in either order, ``:`` for ``=`` too.

A radius may follow: ``30'``, ``45"``, ``0.5deg``, ``2 deg``, ``r=0.5deg``, ``within 30'``
(``r=`` without a unit means degrees).  This module only decides which words form the position
and which unit applies; astropy's ``SkyCoord`` and ``Angle`` read the values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from astropy import units as u
from astropy.coordinates import Angle, SkyCoord

RADIUS_UNITS = ("'", '"', "′", "″", "°", "deg", "arcmin", "arcsec", "amin", "asec")
UNIT_WORDS = {"deg", "degree", "degrees", "arcmin", "arcminutes", "arcsec", "arcseconds"}
SEXAGESIMAL_MARKS = set("hms:d°'\"′″")
GALACTIC_WORDS = {"gal", "galactic"}
# 'ra=… dec=…' in either order; a value runs to the other key (it may hold spaces)
KEY_VALUE = re.compile(
    r"\s*(?P<k1>ra|dec)\s*[=:]\s*(?P<v1>.+?)\s*,?\s+(?P<k2>ra|dec)\s*[=:]\s*(?P<v2>.+?)\s*",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Position:
    coord: SkyCoord  # ICRS
    frame: str  # how it was typed: "icrs" or "galactic"

    @classmethod
    def at(cls, ra_deg: float, dec_deg: float) -> Position:
        return cls(SkyCoord(ra_deg * u.deg, dec_deg * u.deg), "icrs")

    @property
    def ra_deg(self) -> float:
        return float(self.coord.ra.deg)

    @property
    def dec_deg(self) -> float:
        return float(self.coord.dec.deg)

    def xyz(self) -> np.ndarray:
        return np.asarray(self.coord.cartesian.xyz.value, np.float64)

    def describe(self) -> str:
        ra = self.coord.ra.to_string(unit=u.hourangle, sep=":", precision=1, pad=True)
        dec = self.coord.dec.to_string(sep=":", precision=0, alwayssign=True, pad=True)
        if self.frame == "galactic":
            g = self.coord.galactic
            return f"l={g.l.deg:.3f} b={g.b.deg:+.3f} (RA {ra}, Dec {dec})"
        return f"RA {ra}, Dec {dec}"


def _float(word: str) -> float | None:
    try:
        return float(word)
    except ValueError:
        return None


def angle(text: str, default_unit=None) -> Angle | None:
    """``30'``, ``0.5deg``, ``2 deg`` (or a bare number with ``default_unit``) as an Angle, else None."""
    text = text.strip()
    if not text:
        return None
    has_unit = text.endswith(RADIUS_UNITS) or text.split()[-1] in UNIT_WORDS
    if not has_unit and default_unit is None:
        return None
    try:
        value = Angle(text) if has_unit else Angle(float(text), default_unit)
    except (ValueError, u.UnitsError):
        return None
    return value if value.deg > 0 else None


def take_radius(words: list[str]) -> tuple[Angle | None, list[str]]:
    """A radius at the end of ``words`` ("30'", "r=0.5deg", "within 2 deg"), and the words before it."""
    for size in (2, 1):
        if len(words) < size:
            continue
        tail = " ".join(words[-size:])
        rest = words[:-size]
        if tail.lower().startswith(("r=", "r:", "radius=")):
            found = angle(tail.split("=", 1)[-1].split(":", 1)[-1], u.deg)
        elif size == 2 and words[-1].lower() not in UNIT_WORDS:
            continue
        else:
            found = angle(tail)
        if found is not None:
            if rest and rest[-1].lower() == "within":
                rest = rest[:-1]
            return found, rest
    return None, words


def key_value_position(text: str) -> Position | None:
    """``ra=… dec=…`` (either order) as a position, or None when ``text`` is not that form."""
    m = KEY_VALUE.fullmatch(text)
    if m is None or m["k1"].lower() == m["k2"].lower():
        return None
    values = {m["k1"].lower(): m["v1"], m["k2"].lower(): m["v2"]}
    ra, dec = ra_angle(values["ra"]), dec_angle(values["dec"])
    return None if ra is None or dec is None else Position(SkyCoord(ra, dec), "icrs")


def ra_angle(text: str) -> Angle | None:
    """A right ascension: decimal is degrees, sexagesimal is hours (as astronomers write them)
    unless marked ``d``/``°``; None unless it is an angle in [0, 360) degrees."""
    if _float(text) is not None:
        ra = Angle(float(text), u.deg)
    else:
        degrees = any(mark in text.lower() for mark in ("d", "°"))
        ra = _angle_value(text, u.deg if degrees else u.hourangle)
    return ra if ra is not None and 0.0 <= ra.deg < 360.0 else None


def dec_angle(text: str) -> Angle | None:
    """A declination in degrees (decimal or sexagesimal), None unless it is in [-90, 90]."""
    dec = _angle_value(text, u.deg)
    return dec if dec is not None and -90.0 <= dec.deg <= 90.0 else None


def _angle_value(text: str, unit) -> Angle | None:
    try:
        return Angle(text, unit=unit)
    except (ValueError, u.UnitsError):
        return None


def parse_position(words: list[str]) -> Position | None:
    """The position these words spell out, or None when they are not (only) a position."""
    position = key_value_position(" ".join(words))
    if position is not None:
        return position
    words = " ".join(words).replace(",", " ").split()
    if len(words) < 2:
        return None
    lowered = [w.lower() for w in words]
    try:
        if lowered[0] in GALACTIC_WORDS and len(words) == 3:
            return _galactic(words[1], words[2])
        if len(words) == 2 and lowered[0].startswith("l=") and lowered[1].startswith("b="):
            return _galactic(words[0][2:], words[1][2:])
        if all(_float(w) is not None for w in words) and len(words) == 2:
            ra, dec = (_float(w) for w in words)
            if not 0.0 <= ra < 360.0:
                return None
            return Position(SkyCoord(ra * u.deg, dec * u.deg), "icrs")
        if not all(c.isdigit() or c in "+-. " or c in SEXAGESIMAL_MARKS for c in " ".join(lowered)):
            return None
        if sum(any(c.isdigit() for c in w) for w in words) < 2:
            return None
        return Position(SkyCoord(" ".join(words), unit=(u.hourangle, u.deg)), "icrs")
    except (ValueError, u.UnitsError):
        return None


def _galactic(l_text: str, b_text: str) -> Position | None:
    l_deg, b_deg = _float(l_text), _float(b_text)
    if l_deg is None or b_deg is None:
        return None
    coord = SkyCoord(l=l_deg * u.deg, b=b_deg * u.deg, frame="galactic").icrs
    return Position(coord, "galactic")
