"""Graded queries of each kind astronomers type, generated from the corpus by a seeded procedure.

``generate_kind_queries(corpus, resolver, per_kind, seed)`` draws, with ``random.Random(seed)``
from lists sorted by corpus order:

* **designation**: a catalogue designation of an object (Messier, NGC, IC, UGC, PGC, ESO,
  MCG, Caldwell, Bayer / Flamsteed), one catalogue at a time in turn, in one of its common
  spellings (``Messier 42``, ``NGC0224``, ``ugc454``, ``LEDA 2557``, ``epsilon Orion`` ...).
  Grade 5: every object carrying that designation.
* **typo**: a common name with 1 character edit (names of 4-7 letters) or 1-2 edits (8+ letters:
  a deletion, insertion, substitution or swap of neighbours) that is no other object's name.
  Grade 5: the objects carrying the name.
* **coordinates**: an object's position moved by 0-10 arcsec in a random direction, written in
  one of six formats (three sexagesimal, two decimal, galactic), sometimes with a radius.
  Grade 5: that object; targets that another object is nearer to (by less than 1 arcsec of
  printed rounding) are skipped, since the right answer to such a position is the other object.
* **near**: "objects near X" and its variants for a well-known X (Messier number, common name
  or V <= 10) with neighbours, sometimes with a radius or a type family ("galaxies near M81").
  Grade 5: every object within the radius (1 degree unless the query says) of the family.
* **brightness**: "brightest / bright / faintest TYPES [in CONSTELLATION]", "TYPES brighter than
  mag M", "naked-eye TYPES".  The answer is the magnitude-sorted list of the members: grade 5
  for the first (and ties), 4 for the next nine, 2 for the other members.
* **fields**: the same answers asked with the query syntax (``type:GCl con:Sgr mag<8``).
* **common_name**: a common name of an object that has no image (OpenNGC's names and
  Stellarium's ``names.dat``), as typed or in lower case.  Grade 5: the objects carrying it.
* **genitive**: a Bayer / Flamsteed name (or a name that starts with one, ``ω Cen Cluster``)
  written the other way: with the genitive (``beta Cygni``) when the catalogue abbreviates
  (``bet Cyg``), with the abbreviation (``chi Per``) when it writes the genitive (``χ Persei``).
  Grade 5: the objects carrying it.
* **key_value**: the coordinates kind written as ``ra=… dec=…`` (degrees, ``ra=05:35:17.3
  dec=-05:23:28``, ``ra=5h35m17.3s dec=-5d23m28s``), sometimes with ``radius=``.  Grade 5: that object.

Every second query of each kind is ``split: "test"``.  No query here trains anything; the
split keeps a part that was never looked at while the resolver was written.
"""

from __future__ import annotations

import random
import string
from collections import defaultdict

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord
from rapidfuzz.distance import OSA

from hubbleclip.data.designations import (
    GREEK,
    catalogue_word,
    common_name_key,
    constellation_genitives,
    designation_key,
    fold,
    name_key,
    star_key,
)
from hubbleclip.data.schema import OPENNGC_TYPES
from hubbleclip.data.text import constellation_names
from hubbleclip.search.features import FIELD_RADIUS_DEG
from hubbleclip.search.names import NameResolver, allowed_edits
from hubbleclip.search.queries import TextQuery, common_names
from hubbleclip.search.relevance import separation_arcsec
from hubbleclip.search.text import FAMILIES, plural

KINDS = (
    "designation",
    "typo",
    "coordinates",
    "near",
    "brightness",
    "fields",
    "common_name",
    "genitive",
    "key_value",
)
MAX_OFFSET_ARCSEC = 10.0
ROUNDING_ARCSEC = 1.0  # printed digits round by 0.75" at most (0.05 s of RA; 4 decimals: 0.18")
ATTEMPTS = 20  # draws per wanted query before a small corpus gives up on a kind
SPELLINGS = {
    "m": ("M {n}", "M{n}", "Messier {n}", "messier{n}", "m {n}", "messier {n}"),
    "ngc": ("NGC {n}", "NGC{n4}", "ngc{n}", "ngc {n}", "NGC {n4}"),
    "ic": ("IC {n}", "IC{n4}", "ic{n}", "ic {n}"),
    "ugc": ("UGC {n}", "UGC {n5}", "ugc{n}", "ugc {n}"),
    "pgc": ("PGC {n}", "PGC {n6}", "LEDA {n}", "pgc{n}"),
    "eso": ("ESO {n}", "eso {n}", "{printed}"),
    "mcg": ("{printed}", "MCG {n}"),
    "c": ("Caldwell {n}", "C {n}", "C{n}", "caldwell {n}"),
}
TEMPLATES = ("{d}", "{d}", "{d}", "where is {d}", "{d} position")
NAME_TEMPLATES = ("{n}", "{n}", "where is the {n}", "{n} position", "find the {n}")
NEAR_TEMPLATES = ("objects near {x}", "near {x}", "around {x}", "what is near {x}", "{t} near {x}")
RADII = ((None, FIELD_RADIUS_DEG), ("within 30'", 0.5), ("r=0.5deg", 0.5), ("within 2 deg", 2.0))
BRIGHT_TYPES = (
    "globular cluster",
    "open cluster",
    "planetary nebula",
    "reflection nebula",
    "supernova remnant",
    "elliptical galaxy",
    "lenticular galaxy",
    "irregular galaxy",
    "barred spiral galaxy",
    "galaxy pair",
    "dark nebula",
)
BRIGHT_TEMPLATES = (
    ("brightest {t}", "brightest", False),
    ("brightest {t} in {c}", "brightest", True),
    ("bright {t} in {c}", "brightest", True),
    ("{t} brighter than mag {m}", "limit", False),
    ("{t} in {c} brighter than magnitude {m}", "limit", True),
    ("faintest {t} in {c}", "faintest", True),
    ("naked-eye {t}", "naked-eye", False),
)
FIELD_TEMPLATES = (
    ('type:"{label}" con:{abbr} mag<{m}', True),
    ("type:{code} con:{abbr}", False),
    ('type:{family} con:"{name}" mag<{m}', True),
    ("con:{abbr} mag<{m}", True),
)


def _coordinate_text(coord: SkyCoord, fmt: str) -> str:
    if fmt == "sexagesimal":
        return coord.to_string("hmsdms", sep=" ", precision=1)
    if fmt == "hmsdms":
        return coord.to_string("hmsdms", precision=1)
    if fmt == "colons":
        return coord.to_string("hmsdms", sep=":", precision=1)
    if fmt == "decimal":
        return f"{coord.ra.deg:.4f} {coord.dec.deg:.4f}"
    if fmt == "decimal_comma":
        return f"{coord.ra.deg:.4f}, {coord.dec.deg:+.4f}"
    g = coord.galactic
    return f"l={g.l.deg:.4f} b={g.b.deg:.4f}"


COORDINATE_FORMATS = ("sexagesimal", "hmsdms", "colons", "decimal", "decimal_comma", "galactic")
KEY_VALUE_FORMATS = ("degrees", "colons", "hmsdms", "degrees_comma")
KEY_VALUE_RADII = (' radius=30"', " radius=1'", " r=0.01")


def _key_value_text(coord: SkyCoord, fmt: str) -> str:
    if fmt == "degrees":
        return f"ra={coord.ra.deg:.4f} dec={coord.dec.deg:+.4f}"
    if fmt == "degrees_comma":
        return f"RA={coord.ra.deg:.4f}, Dec={coord.dec.deg:.4f}"
    sep = ":" if fmt == "colons" else None
    ra = coord.ra.to_string(unit=u.hourangle, sep=sep or "hms", precision=1, pad=True)
    dec = coord.dec.to_string(sep=sep or "dms", precision=0, alwayssign=True, pad=True)
    return f"ra={ra} dec={dec}"


def _designation_forms(key: str, printed: str) -> list[str]:
    """Spellings of a designation key ('ngc 224' -> 'NGC 224', 'NGC0224', 'ngc224', ...)."""
    word = catalogue_word(key)
    number = key.split(" ", 1)[1]
    if word in SPELLINGS:
        digits = number.isdigit()
        return [
            t.format(
                n=number,
                n4=number.zfill(4) if digits else number,
                n5=number.zfill(5) if digits else number,
                n6=number.zfill(6) if digits else number,
                printed=printed,
            )
            for t in SPELLINGS[word]
        ]
    head, const = key.split(" ", 1)
    names = {a.lower(): (a, n) for a, n in constellation_names().items()}
    abbr, full = names[const]
    if head.isdigit():  # Flamsteed
        return [f"{head} {abbr}", f"{head} {full}"]
    letters = head.rstrip(string.digits)
    index = head[len(letters) :]
    forms = next(f for f in GREEK if f[0] == letters)
    return [f"{g}{index} {c}" for g in (forms[0], forms[1], forms[2]) for c in (abbr, full)]


def _designation_queries(resolver: NameResolver, rng: random.Random, count: int) -> list[tuple]:
    by_catalogue: dict[str, list[str]] = defaultdict(list)
    for key in resolver.table:
        word = catalogue_word(key)
        if word in SPELLINGS:
            by_catalogue[word].append(key)
        elif word is None and designation_key(resolver.label(key)) == key:
            head = key.split(" ", 1)[0]
            if head.isdigit() or head.rstrip(string.digits) in {g[0] for g in GREEK}:
                by_catalogue["star names"].append(key)
    catalogues = sorted(by_catalogue)
    out = []
    for n in range(count if catalogues else 0):
        key = rng.choice(by_catalogue[catalogues[n % len(catalogues)]])
        text = rng.choice(TEMPLATES).format(d=rng.choice(_designation_forms(key, resolver.label(key))))
        out.append((text, dict.fromkeys(resolver.table[key], 5), catalogues[n % len(catalogues)]))
    return out


def _edit(name: str, rng: random.Random) -> str:
    letters = [i for i, c in enumerate(name) if c.isalpha()]
    i = rng.choice(letters)
    op = rng.choice(("delete", "insert", "substitute", "swap"))
    new = rng.choice(string.ascii_lowercase)
    if op == "delete":
        return name[:i] + name[i + 1 :]
    if op == "insert":
        return name[:i] + new + name[i:]
    if op == "substitute":
        return name[:i] + new + name[i + 1 :]
    j = i + 1 if i + 1 < len(name) and name[i + 1].isalpha() else max(i - 1, 0)
    a, b = sorted((i, j))
    return name[:a] + name[b] + name[a] + name[b + 1 :]


def _typo_queries(resolver: NameResolver, rng: random.Random, count: int) -> list[tuple]:
    keys = sorted(k for k in resolver.fuzzy_names if common_names([resolver.label(k)]))
    out = []
    for key in rng.sample(keys, min(count, len(keys))):
        shown = resolver.label(key)
        edits = 1 if allowed_edits(key) == 1 else rng.choice((1, 2))
        for _ in range(20):
            typo = shown
            for _ in range(edits):
                typo = _edit(typo, rng)
            typo_key = common_name_key(typo)
            if OSA.distance(typo_key, key) == edits and name_key(typo) not in resolver.table:
                break
        else:
            continue
        typo = typo.lower() if rng.random() < 0.5 else typo
        template = rng.choice(NAME_TEMPLATES)
        if typo.lower().startswith("the "):
            template = template.replace("the {n}", "{n}")
        out.append((template.format(n=typo), dict.fromkeys(resolver.table[key], 5), f"{edits} edit(s)"))
    return out


def _moved_positions(corpus, rng: random.Random):
    """(object, its position moved by up to 10") in random order, for the objects that nothing
    else is nearer to; the caller stops drawing when it has enough."""
    placed = [
        i for i in range(len(corpus)) if np.isfinite(corpus.ra_deg[i]) and np.isfinite(corpus.dec_deg[i])
    ]
    xyz = corpus.unit_vectors()
    unplaced = ~np.isfinite(xyz).all(axis=1)
    for i in rng.sample(placed, len(placed)):
        true = SkyCoord(float(corpus.ra_deg[i]) * u.deg, float(corpus.dec_deg[i]) * u.deg)
        moved = true.directional_offset_by(
            rng.uniform(0.0, 360.0) * u.deg, rng.uniform(0.0, MAX_OFFSET_ARCSEC) * u.arcsec
        )
        # the answer to a position is the object nearest to it: skip a target that another
        # object is nearer to (or within the printed digits' rounding of), e.g. a galaxy's pair
        sep = separation_arcsec(xyz, np.asarray(moved.cartesian.xyz.value, np.float64))
        target, sep[i], sep[unplaced] = sep[i], np.inf, np.inf
        if sep.min() <= target + ROUNDING_ARCSEC:
            continue
        yield i, moved


def _coordinate_queries(corpus, rng: random.Random, count: int) -> list[tuple]:
    out = []
    for i, moved in _moved_positions(corpus, rng) if count else ():
        fmt = COORDINATE_FORMATS[len(out) % len(COORDINATE_FORMATS)]
        text = _coordinate_text(moved, fmt)
        if rng.random() < 0.3:
            text += " " + rng.choice(('30"', "r=1'", "within 2'"))
        out.append((text, {i: 5}, fmt))
        if len(out) == count:
            break
    return out


def _key_value_queries(corpus, rng: random.Random, count: int) -> list[tuple]:
    out = []
    for i, moved in _moved_positions(corpus, rng) if count else ():
        fmt = KEY_VALUE_FORMATS[len(out) % len(KEY_VALUE_FORMATS)]
        text = _key_value_text(moved, fmt)
        if rng.random() < 0.3:
            text += rng.choice(KEY_VALUE_RADII)
        out.append((text, {i: 5}, fmt))
        if len(out) == count:
            break
    return out


def _common_name_queries(corpus, resolver: NameResolver, rng: random.Random, count: int) -> list[tuple]:
    """Common names of the objects without an image (no other object's image may carry them)."""
    imageless = {i for i in range(len(corpus)) if not corpus.image_rows[i] and corpus.source[i] != "star"}
    keys = sorted(
        {
            key
            for i in sorted(imageless)
            for n in common_names(corpus.names[i])
            if designation_key(n) is None
            and (key := common_name_key(n)) in resolver.table
            and set(resolver.table[key]) <= imageless
        }
    )
    out = []
    for key in rng.sample(keys, min(count, len(keys))):
        shown = resolver.label(key)
        lower = rng.random() < 0.5
        template = rng.choice(NAME_TEMPLATES)
        if shown.lower().startswith("the "):
            template = template.replace("the {n}", "{n}")
        text = template.format(n=shown.lower() if lower else shown)
        out.append((text, dict.fromkeys(resolver.table[key], 5), "lower case" if lower else "as typed"))
    return out


def _star_part(key: str) -> tuple[str, str, list[str]] | None:
    """'bet cyg' -> ('bet', 'cyg', []); 'ome cen cluster' -> ('ome', 'cen', ['cluster'])."""
    words = key.split()
    if len(words) < 2 or star_key(" ".join(words[:2])) != " ".join(words[:2]):
        return None
    return words[0], words[1], words[2:]


def _genitive_text(key: str, label: str, rng: random.Random) -> tuple[str, str]:
    """The star name of ``key`` written the other way from the catalogue's ``label``."""
    head, const, rest = _star_part(key)
    abbrs = {fold(a): a for a in constellation_names()}
    abbr = abbrs[const]
    letters = head.rstrip(string.digits)
    if head.isdigit():  # Flamsteed
        letter = head
    else:
        forms = next(f for f in GREEK if f[0] == letters)
        letter = rng.choice((forms[0], forms[1], forms[1].title(), forms[2])) + head[len(letters) :]
    abbreviated = const in fold(label).split()
    written = constellation_genitives()[abbr] if abbreviated else abbr
    return " ".join([letter, written, *rest]), "genitive" if abbreviated else "abbreviation"


def _genitive_queries(resolver: NameResolver, rng: random.Random, count: int) -> list[tuple]:
    """Both directions in turn: the catalogue abbreviates (most stars) or writes the genitive."""
    pools: dict[bool, list[str]] = defaultdict(list)
    for key in sorted(resolver.table):
        if _star_part(key) and name_key(resolver.label(key)) == key:
            pools[key.split()[1] in fold(resolver.label(key)).split()].append(key)
    turns = [pools[b] for b in (True, False) if pools[b]]
    out, seen = [], set()
    for n in range(count * ATTEMPTS if turns else 0):
        if len(out) == count:
            break
        key = rng.choice(turns[n % len(turns)])
        name, variant = _genitive_text(key, resolver.label(key), rng)
        text = rng.choice(TEMPLATES).format(d=name)
        if text not in seen:
            seen.add(text)
            out.append((text, dict.fromkeys(resolver.table[key], 5), variant))
    return out


def _family_plural(label: str) -> str | None:
    family = next((f for f, members in FAMILIES.items() if label in members), None)
    return plural(family) if family else None


def _near_queries(corpus, resolver: NameResolver, rng: random.Random, count: int) -> list[tuple]:
    xyz = corpus.unit_vectors()
    famous = []
    for i, names in enumerate(corpus.names):
        mag = float(corpus.mag[i])
        if (any(n.startswith("M") and n[1:].isdigit() for n in names) or common_names(names)) or (
            np.isfinite(mag) and mag <= 10.0
        ):
            unique = [n for n in names if resolver.table.get(name_key(n)) == (i,)]
            if unique and np.isfinite(xyz[i]).all():
                famous.append((i, unique))
    out = []
    while len(out) < count and famous:
        i, names = famous.pop(rng.randrange(len(famous)))
        words, radius = rng.choice(RADII)
        sep = separation_arcsec(np.nan_to_num(xyz, nan=0.0), xyz[i]) / 3600.0
        inside = np.flatnonzero((sep <= radius) & np.isfinite(xyz).all(axis=1))
        template = rng.choice(NEAR_TEMPLATES)
        family = _family_plural(corpus.type[i])
        if "{t}" in template:
            if family is None:
                continue
            members = next(m for f, m in FAMILIES.items() if plural(f) == family)
            inside = np.array([j for j in inside if corpus.type[j] in members], np.int64)
        if len(inside) < 2:
            continue
        text = template.format(x=rng.choice(names), t=family) + (f" {words}" if words else "")
        out.append((text, {int(j): 5 for j in inside}, template.split(" {x}")[0].replace("{t}", "TYPE")))
    return out


def _sorted_grades(members: list[int], mag: np.ndarray, faintest: bool) -> dict[int, int]:
    """Grade 5 for the first in magnitude order (and ties), 4 for the next nine, 2 for the rest."""
    key = -mag[members] if faintest else mag[members]
    order = np.asarray(members)[np.argsort(key, kind="stable")]
    keys = np.sort(key)
    tenth = keys[min(9, len(keys) - 1)]
    grades = {}
    for j, k in zip(order, keys):
        grades[int(j)] = 5 if k == keys[0] else 4 if k <= tenth else 2
    return grades


def _subjects() -> dict[str, tuple[str, set[str]]]:
    """Query words -> (label or family name, the type labels they mean)."""
    out = {plural(label): (label, {label}) for label in BRIGHT_TYPES}
    for family in ("galaxy", "nebula", "cluster", "star"):
        out[plural(family)] = (family, set(FAMILIES[family]))
    return out


def _brightness_pools(corpus) -> list[tuple[str, str, str | None, list[int]]]:
    """(query words, label or family, constellation or None, members with a magnitude)."""
    mag = np.asarray(corpus.mag, np.float64)
    pools = []
    for words, (label, types) in sorted(_subjects().items()):
        members = [i for i in range(len(corpus)) if corpus.type[i] in types and np.isfinite(mag[i])]
        if len(members) >= 3:
            pools.append((words, label, None, members))
        by_const = defaultdict(list)
        for i in members:
            by_const[corpus.constellation[i]].append(i)
        pools += [(words, label, c, m) for c, m in sorted(by_const.items()) if c and len(m) >= 3]
    return pools


def _limit(mags: np.ndarray, rng: random.Random) -> float:
    """A magnitude limit that keeps between 3 and ~10 of the brightest members."""
    ranked = np.sort(mags)
    return float(np.ceil(ranked[min(len(ranked) - 1, rng.randint(2, 9))] + 0.01))


def _brightness_queries(corpus, rng: random.Random, count: int) -> list[tuple]:
    mag = np.asarray(corpus.mag, np.float64)
    pools = _brightness_pools(corpus)
    out = []
    for _ in range(count * ATTEMPTS):
        if len(out) == count:
            break
        template, how, needs_const = rng.choice(BRIGHT_TEMPLATES)
        fitting = [p for p in pools if (p[2] is not None) == needs_const]
        if not fitting:
            continue
        words, _, const, members = rng.choice(fitting)
        limit = _limit(mag[members], rng) if how == "limit" else 6.0 if how == "naked-eye" else None
        if how == "naked-eye":
            kept = [i for i in members if mag[i] <= limit]
        else:
            kept = [i for i in members if limit is None or mag[i] < limit]
        if len(kept) < 1:
            continue
        text = template.format(t=words, c=const, m=f"{limit:g}" if limit is not None else "")
        out.append((text, _sorted_grades(kept, mag, how == "faintest"), how))
    return out


def _field_queries(corpus, rng: random.Random, count: int) -> list[tuple]:
    mag = np.asarray(corpus.mag, np.float64)
    codes = {label: code for code, label in OPENNGC_TYPES.items()}
    abbrs = {name: abbr for abbr, name in constellation_names().items()}
    pools = [p for p in _brightness_pools(corpus) if p[2] is not None]
    out = []
    for _ in range(count * ATTEMPTS if pools else 0):
        if len(out) == count:
            break
        template, limited = rng.choice(FIELD_TEMPLATES)
        _, label, const, members = rng.choice(pools)
        family = label in FAMILIES
        if ("{code}" in template and (family or label not in codes)) or (
            "{family}" in template and not family
        ):
            continue
        if "{label}" in template and family:
            continue
        if template.startswith("con:"):
            members = [
                i for i in range(len(corpus)) if corpus.constellation[i] == const and np.isfinite(mag[i])
            ]
        limit = _limit(mag[members], rng) if limited else None
        kept = [i for i in members if limit is None or mag[i] < limit]
        text = template.format(
            label=label,
            code=codes.get(label),
            family=label,
            abbr=abbrs[const],
            name=const,
            m=f"{limit:g}" if limited else "",
        )
        out.append((text, _sorted_grades(kept, mag, False), template.split(" ")[0].split(":")[0]))
    return out


def generate_kind_queries(
    corpus, resolver: NameResolver, per_kind: int = 90, seed: int = 0
) -> list[TextQuery]:
    rng = random.Random(seed)
    raw = {
        "designation": _designation_queries(resolver, rng, per_kind),
        "typo": _typo_queries(resolver, rng, per_kind),
        "coordinates": _coordinate_queries(corpus, rng, per_kind),
        "near": _near_queries(corpus, resolver, rng, per_kind),
        "brightness": _brightness_queries(corpus, rng, per_kind),
        "fields": _field_queries(corpus, rng, per_kind),
        "common_name": _common_name_queries(corpus, resolver, rng, per_kind),
        "genitive": _genitive_queries(resolver, rng, per_kind),
        "key_value": _key_value_queries(corpus, rng, per_kind),
    }
    queries = []
    for kind in KINDS:
        for n, (text, grades, variant) in enumerate(raw[kind]):
            queries.append(
                TextQuery(
                    id=f"{kind}-{n:03d}",
                    text=text,
                    kind=f"{kind}:{variant}",
                    split="test" if n % 2 == 1 else "train",
                    judgments={corpus.object_id[j]: int(g) for j, g in sorted(grades.items())},
                )
            )
    return queries
