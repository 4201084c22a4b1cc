"""Catalogue designations and common names as lookup keys, whatever the spelling.

``name_key`` maps every way of writing one identifier to one string, so that the query side and
the catalogue side meet in a dictionary:

* designations: a catalogue word (or a spelled-out synonym) and its number, glued or spaced,
  with or without leading zeros: ``M 42``, ``M42``, ``Messier 42``, ``messier42`` -> ``m 42``;
  ``NGC 224``, ``NGC0224``, ``ngc224`` -> ``ngc 224``; ``UGC 00454`` -> ``ugc 454``;
  ``ESO 545-008`` -> ``eso 545-8``; ``C 005``, ``Caldwell 5`` -> ``c 5``; ``LEDA 2557`` ->
  ``pgc 2557`` (HyperLEDA numbers are PGC numbers);
* Bayer and Flamsteed star names: a Greek letter (spelled out, abbreviated or as the letter)
  or a number, then a constellation (IAU abbreviation, name or genitive): ``eps Ori``,
  ``epsilon Orion``, ``ε Orionis`` -> ``eps ori``; ``50 Cas``, ``50 Cassiopeiae`` -> ``50 cas``;
* anything else is a common name: lower case, accents, apostrophes and punctuation dropped,
  a leading "the" removed: ``Hubble's Nebula`` -> ``hubbles nebula``; a star name at its start
  is written as above, so ``ω Cen Cluster`` and ``omega Centauri cluster`` meet.

Which catalogues exist is not listed here: any word followed by numbers is a candidate
designation, and the corpus decides whether it names something.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from importlib import resources

from hubbleclip.data.text import constellation_names

# spelled-out or alternative catalogue words -> the word the catalogues print
CATALOGUE_SYNONYMS = {
    "messier": "m",
    "caldwell": "c",
    "leda": "pgc",
    "melotte": "mel",
    "collinder": "cr",
    "sharpless": "sh2",
    "barnard": "b",
}
GREEK = (
    ("alf", "alpha", "α"),
    ("bet", "beta", "β"),
    ("gam", "gamma", "γ"),
    ("del", "delta", "δ"),
    ("eps", "epsilon", "ε"),
    ("zet", "zeta", "ζ"),
    ("eta", "eta", "η"),
    ("tet", "theta", "θ"),
    ("iot", "iota", "ι"),
    ("kap", "kappa", "κ"),
    ("lam", "lambda", "λ"),
    ("mu", "mu", "μ"),
    ("nu", "nu", "ν"),
    ("xi", "xi", "ξ"),
    ("omi", "omicron", "ο"),
    ("pi", "pi", "π"),
    ("rho", "rho", "ρ"),
    ("sig", "sigma", "σ"),
    ("tau", "tau", "τ"),
    ("ups", "upsilon", "υ"),
    ("phi", "phi", "φ"),
    ("chi", "chi", "χ"),
    ("psi", "psi", "ψ"),
    ("ome", "omega", "ω"),
)
_GREEK_FORMS = {form: abbr for abbr, *forms in GREEK for form in (abbr, *forms)} | {"alp": "alf"}
_SPLIT = re.compile(r"([a-z]+(?:-[a-z]+)?)(.*)")  # 'ngc0224' -> 'ngc', '0224'; 'eso-lv0561150'
_LEADING_ZEROS = re.compile(r"(?<![\d.])0+(?=\d)")
_NOT_WORD = re.compile(r"[^a-z0-9]+")


def fold(text: str) -> str:
    """Lower case without accents; Greek letters and superscript digits kept as letters/digits."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@lru_cache(maxsize=1)
def constellation_genitives() -> dict[str, str]:
    """IAU abbreviation -> genitive ('Cyg' -> 'Cygni'), from ``resources/constellations``."""
    path = resources.files("hubbleclip") / "resources" / "constellations" / "genitives.tsv"
    lines = path.read_text(encoding="utf-8").splitlines()
    return dict(line.split("\t") for line in lines if line and not line.startswith("#"))


@lru_cache(maxsize=1)
def _constellations() -> dict[str, str]:
    """Abbreviation, full name or genitive (folded) -> folded IAU abbreviation."""
    out = {}
    genitives = constellation_genitives()
    for abbr, name in constellation_names().items():
        out[fold(abbr)] = out[fold(name)] = out[fold(genitives[abbr])] = fold(abbr)
    return out


def constellation_abbreviation(words: str) -> str | None:
    return _constellations().get(" ".join(fold(words).split()))


def _number(parts: list[str]) -> str | None:
    """A designation's number: every part holds a digit, bar an optional one-letter suffix."""
    if not parts or not all(any(c.isdigit() for c in p) for p in parts[:-1]):
        return None
    last = parts[-1]
    if not any(c.isdigit() for c in last) and not (len(parts) > 1 and len(last) == 1 and last.isalpha()):
        return None
    return "".join(_LEADING_ZEROS.sub("", p) for p in parts)


def _star_key(words: list[str]) -> str | None:
    """'eps Ori', 'epsilon Orion', 'ε1 Ori', '50 Cas' -> 'eps ori', 'eps1 ori', '50 cas'."""
    if len(words) < 2:
        return None
    const = _constellations().get(" ".join(words[1:]))  # words are folded already
    if const is None:
        return None
    head = words[0]
    letters = head.rstrip("0123456789")
    if letters in _GREEK_FORMS:
        return f"{_GREEK_FORMS[letters]}{head[len(letters) :]} {const}"
    if head.isdigit():
        return f"{int(head)} {const}"
    return None


def star_key(text: str) -> str | None:
    """The key of a Bayer or Flamsteed name ('alpha Centauri' -> 'alf cen'), else None."""
    return _star_key(fold(text).replace(",", " ").split())


def designation_key(text: str) -> str | None:
    """The lookup key of a designation or a Bayer/Flamsteed name, or None when ``text`` is neither."""
    words = fold(text).replace(",", " ").split()
    if not words:
        return None
    star = _star_key(words)
    if star:
        return star
    head, rest = words[0], words[1:]
    match = _SPLIT.fullmatch(head)
    if match and match.group(2):  # glued: 'ngc0224', 'messier42', 'sh2-155'
        head, rest = match.group(1), [match.group(2), *words[1:]]
    elif not any(c.isalpha() for c in head):
        return None
    if head == "sh" and rest and rest[0].startswith("2-"):  # 'Sh 2-155'
        head, rest = "sh2", [rest[0][2:], *rest[1:]]
    number = _number(rest)
    if number is None:
        return None
    return f"{CATALOGUE_SYNONYMS.get(head, head)} {number}"


def common_name_key(text: str) -> str:
    """'The Hubble's  Nebula' -> 'hubbles nebula'; 'omega Centauri Cluster' -> 'ome cen cluster'."""
    words = fold(text).replace("'", "").replace("’", "").split()
    if len(words) > 1 and words[0] == "the":
        words = words[1:]
    for size in (3, 2):  # constellation names have one or two words
        star = _star_key(words[:size]) if len(words) > size else None
        if star:
            words = [star, *words[size:]]
            break
    return " ".join(_NOT_WORD.sub(" ", " ".join(words)).split())


def name_key(text: str) -> str:
    """One key per identifier: the designation key if ``text`` is one, else the common-name key."""
    return designation_key(text) or common_name_key(text)


def catalogue_word(key: str) -> str | None:
    """The catalogue word of a designation key ('ngc 224' -> 'ngc'), None for star names."""
    head, _, rest = key.partition(" ")
    return head if rest and head.isalpha() and head not in _GREEK_FORMS else None
