"""The fielded query syntax for precise searches; the words that are not fields stay free text.

    type:"planetary nebula" con:Lyr mag<10
    type:GCl con:Sgr mag<=7          near:M81 type:galaxy r=2deg

===============  =====================================================================
``type:T``       an OpenNGC type code (``PN``, ``GCl``, ``OCl``, ``G``, ``HII``, ...) or type
                 words (``galaxy``, ``"open cluster"``); repeat it for several types
``con:C``        a constellation: IAU abbreviation or name (``Lyr``, ``"Canes Venatici"``)
``mag<N``        magnitude limits: ``<``, ``<=``, ``>``, ``>=`` (also ``mag < N``)
``near:X``       objects around X (a name, a designation or a position in quotes)
``r=A``          the radius around X or a position: ``30'``, ``0.5deg`` (a bare number is degrees);
                 also ``radius=A``
``ra=A dec=D``   a position, read as the other position forms are (a cone, nearest first):
                 ``ra=83.82 dec=-5.39`` (degrees), ``ra=05:35:17.3 dec=-05:23:28`` (RA hours)
===============  =====================================================================

Quotes are double quotes; an apostrophe is part of a word (``30'``, ``Hubble's``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from astropy import units as u

from hubbleclip.errors import UserError
from hubbleclip.search.coordinates import angle, dec_angle, ra_angle
from hubbleclip.search.subjects import constellation, type_labels

COMPARATORS = ("<=", ">=", "<", ">")
FIELD_NAMES = ("type", "con", "constellation", "near", "r", "radius")
# position keys: checked here, read with the position's other words by coordinates.parse_position
POSITION_KEYS = {
    "ra": (ra_angle, "a right ascension in degrees (ra=83.82) or hours (ra=05:35:17.3)"),
    "dec": (dec_angle, "a declination in degrees from -90 to 90 (dec=-5.39 or dec=-05:23:28)"),
}


class QuerySyntaxError(UserError):
    """A query field with a value that means nothing (``type:foo``, ``mag<bright``)."""


@dataclass
class Fields:
    types: frozenset[str] | None = None
    constellation: str | None = None
    mag_max: float | None = None  # mag < mag_max (or <= when ``mag_max_inclusive``)
    mag_min: float | None = None
    mag_max_inclusive: bool = False
    mag_min_inclusive: bool = False
    near: str | None = None
    radius_deg: float | None = None
    read: list[str] = field(default_factory=list)  # the field words, for the note

    def __bool__(self) -> bool:
        return bool(self.read)


# a word is a run of non-space characters and "quoted phrases" (spaces kept inside the quotes)
WORD = re.compile(r'(?:[^\s"]+|"[^"]*")+')


def split_words(text: str) -> list[str]:
    """Whitespace-separated words, double-quoted phrases kept together (quotes removed); an
    unclosed quote is read as a plain character."""
    if text.count('"') % 2:
        return text.split()
    return [w.replace('"', "") for w in WORD.findall(text)]


def _magnitude(op: str, value: str, out: Fields, word: str) -> None:
    try:
        limit = float(value)
    except ValueError:
        raise QuerySyntaxError(f"{word!r}: expected a number after mag{op}, e.g. mag<10") from None
    if op.startswith("<"):
        out.mag_max, out.mag_max_inclusive = limit, op == "<="
    else:
        out.mag_min, out.mag_min_inclusive = limit, op == ">="


def parse_fields(words: list[str]) -> tuple[Fields, list[str]]:
    """The fields among ``words`` and the other words, in order."""
    out, rest = Fields(), []
    i = 0
    while i < len(words):
        word = words[i]
        low = word.lower()
        name, sep, value = word.partition(":") if ":" in word else word.partition("=")
        name = name.lower()
        if low.startswith("mag") and any(low[3:].startswith(op) for op in COMPARATORS):
            op = next(op for op in COMPARATORS if low[3:].startswith(op))
            _magnitude(op, low[3 + len(op) :], out, word)
        elif low == "mag" and i + 2 < len(words) and words[i + 1] in COMPARATORS:
            _magnitude(words[i + 1], words[i + 2], out, " ".join(words[i : i + 3]))
            out.read.append(" ".join(words[i : i + 3]))
            i += 3
            continue
        elif sep and name in FIELD_NAMES and value:
            _field(name, value, out, word)
        else:
            _check_position_key(word)
            rest.append(word)
            i += 1
            continue
        out.read.append(word)
        i += 1
    return out, rest


def _field(name: str, value: str, out: Fields, word: str) -> None:
    if name == "type":
        labels = type_labels(value)
        if labels is None:
            raise QuerySyntaxError(
                f'{word!r}: not an object type; use type words (galaxy, "open cluster") '
                "or an OpenNGC code (G, GCl, OCl, PN, HII, Neb, SNR, *, **)"
            )
        out.types = labels if out.types is None else out.types | labels
    elif name in ("con", "constellation"):
        out.constellation = constellation(value)
        if out.constellation is None:
            raise QuerySyntaxError(
                f"{word!r}: not a constellation; use its IAU abbreviation or name (Lyr, Lyra)"
            )
    elif name == "near":
        out.near = value
    else:
        radius = angle(value, u.deg)
        if radius is None:
            raise QuerySyntaxError(f"{word!r}: expected a radius such as r=30' or r=0.5deg")
        out.radius_deg = float(radius.deg)


def _check_position_key(word: str) -> None:
    """``ra=…``/``dec=…`` (or ``:``) with a value that is no angle is an error, not free text."""
    match = re.fullmatch(r"(ra|dec)[=:](\S+)", word, re.IGNORECASE)
    if match:
        read, expected = POSITION_KEYS[match[1].lower()]
        if read(match[2].rstrip(",")) is None:
            raise QuerySyntaxError(f"{word!r}: expected {expected}")
