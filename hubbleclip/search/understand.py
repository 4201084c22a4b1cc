"""Read a text query the way an astronomer means it, before any ranking: the resolver stage.

``plan_query`` turns the text into a :class:`QueryPlan`, trying in this order:

1. **an exact name or designation** (the whole query, filler words at its edges aside):
   ``M 42``, ``ngc224``, ``UGC 454``, ``eps Ori``, ``triangulum galaxy`` -> those objects first;
2. **fields** of the query syntax (:mod:`hubbleclip.search.syntax`): ``type:``, ``con:``,
   ``mag<``, ``near:``, ``r=``;
3. **"near X" / "around X"** (or ``near:X``): X resolved as a position, a name or a designation
   (fuzzily if need be), then a cone of the field radius (``within 2 deg``, ``r=30'`` to change);
4. **a position** (:mod:`hubbleclip.search.coordinates`), optionally with a radius: a cone;
5. **brightness words** (:mod:`hubbleclip.search.brightness`); with 2-5, type words and a
   constellation (:mod:`hubbleclip.search.subjects`) become filters;
6. **a fuzzy name** (1-2 typos), only when 1-5 found nothing; its objects are ranked by the name
   as spelt, as for an exact match;
7. otherwise **free text**, ranked by the learned ranker exactly as before.

Free words left over in 2-5 ("bright galaxies *with dust lanes*") go to the learned ranker,
restricted to the objects the filters allow; without them a cone is ordered by separation, and
a filtered or brightness query by magnitude (brightest first unless it asks for faint objects).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hubbleclip.search.brightness import parse_brightness
from hubbleclip.search.coordinates import Position, parse_position, take_radius
from hubbleclip.search.names import NameMatch, NameResolver
from hubbleclip.search.subjects import parse_subject
from hubbleclip.search.syntax import Fields, parse_fields, split_words

NEAR_WORDS = ("near", "around", "nearby")
CLOSE_TO = ("close", "to")


@dataclass(frozen=True)
class FilterColumns:
    """The corpus columns that field filters read, with types and constellations as integer codes:
    a filter is then one vectorised compare, not a pass over a million Python strings."""

    type_codes: np.ndarray
    constellation_codes: np.ndarray
    mag: np.ndarray
    vocab: dict[str, dict[str, int]]

    @classmethod
    def of(cls, corpus) -> FilterColumns:
        vocab, codes = {}, {}
        for name, values in (("type", corpus.type), ("constellation", corpus.constellation)):
            words, codes[name] = np.unique(np.asarray(values, dtype=str), return_inverse=True)
            vocab[name] = {w: i for i, w in enumerate(words.tolist())}
        mag = np.asarray(corpus.mag, np.float64)
        return cls(codes["type"], codes["constellation"], mag, vocab)

    def codes(self, column: str, values) -> np.ndarray:
        """The codes of ``values`` in ``column`` (values no object has are left out)."""
        known = self.vocab[column]
        return np.array([known[v] for v in values if v in known], np.int64)


@dataclass(frozen=True)
class Center:
    position: Position
    label: str  # what the cone is around, for the note
    rows: tuple[int, ...] = ()  # the objects X names, when X is a name


@dataclass
class QueryPlan:
    text: str
    mode: str  # "ranker" | "name" | "cone" | "catalogue"
    name: NameMatch | None = None
    center: Center | None = None
    radius_deg: float | None = None
    types: frozenset[str] | None = None
    constellation: str | None = None
    mag_max: float | None = None
    mag_min: float | None = None
    mag_max_inclusive: bool = False
    mag_min_inclusive: bool = False
    order: str | None = None  # "brightest" | "faintest" | None (separation / ranker)
    ranker_text: str | None = None  # what the learned ranker ranks, None when it does not rank
    notes: list[str] = field(default_factory=list)

    @property
    def has_filters(self) -> bool:
        return any(v is not None for v in (self.types, self.constellation, self.mag_max, self.mag_min))

    def allowed(self, columns: FilterColumns) -> np.ndarray | None:
        """Boolean mask of the corpus objects the filters keep (None: no filter)."""
        if not self.has_filters:
            return None
        mask = np.ones(len(columns.mag), bool)
        if self.types is not None:
            mask &= np.isin(columns.type_codes, columns.codes("type", self.types))
        if self.constellation is not None:
            mask &= np.isin(columns.constellation_codes, columns.codes("constellation", [self.constellation]))
        mag = columns.mag
        with np.errstate(invalid="ignore"):
            if self.mag_max is not None:
                mask &= (mag <= self.mag_max) if self.mag_max_inclusive else (mag < self.mag_max)
            if self.mag_min is not None:
                mask &= (mag >= self.mag_min) if self.mag_min_inclusive else (mag > self.mag_min)
        return mask

    def describe(self) -> str:
        return "; ".join(self.notes)


def _near_split(words: list[str]) -> tuple[list[str], list[str]] | None:
    """(words before, words after) the first "near"/"around"/"close to", or None."""
    lowered = [w.lower() for w in words]
    for i, word in enumerate(lowered):
        if word in NEAR_WORDS and i + 1 < len(words):
            return words[:i], words[i + 1 :]
        if word == CLOSE_TO[0] and lowered[i + 1 : i + 2] == [CLOSE_TO[1]] and i + 2 < len(words):
            return words[:i], words[i + 2 :]
    return None


def _center(target: list[str], resolver: NameResolver, corpus) -> Center | None:
    position = parse_position(target)
    if position is not None:
        return Center(position, position.describe())
    match = resolver.resolve(" ".join(target))
    if match is None:
        return None
    rows = [i for i in match.rows if np.isfinite(corpus.ra_deg[i]) and np.isfinite(corpus.dec_deg[i])]
    if not rows:
        return None
    first = rows[0]
    names = ", ".join(corpus.names[first][:2])
    how = f" (read as {resolver.label(match.key)!r})" if match.how == "fuzzy" else ""
    position = Position.at(float(corpus.ra_deg[first]), float(corpus.dec_deg[first]))
    return Center(position, f"{names}{how}", tuple(match.rows))


def plan_query(text: str, resolver: NameResolver, corpus, field_radius_deg: float) -> QueryPlan:
    """How to answer ``text`` (see the module docstring for the order of the rules)."""
    exact = resolver.exact(text)
    if exact is not None:
        plan = QueryPlan(text, "name", name=exact, ranker_text=text)
        plan.notes.append(f"{exact.text!r} is the name of {_names(exact.rows, corpus)}")
        return plan

    fields, words = parse_fields(split_words(text))
    plan = QueryPlan(text, "ranker", ranker_text=text)
    _apply_fields(plan, fields)
    subject_words = words
    near = _near_split(words) if fields.near is None else (words, split_words(fields.near))
    if near is not None:
        subject_words, target = near
        radius, target = take_radius(target)
        center = _center(target, resolver, corpus)
        if center is None:
            plan.notes.append(f"could not resolve {' '.join(target)!r} as a name or a position")
            return _free_text(plan, resolver, corpus)
        _cone(plan, center, radius, field_radius_deg)
    else:
        radius, position_words = take_radius(words)
        position = parse_position(position_words)
        if position is not None:
            subject_words = []
            _cone(plan, Center(position, position.describe()), radius, field_radius_deg)

    brightness, subject_words = parse_brightness(subject_words)
    if brightness:
        plan.order = brightness.order
        if brightness.mag_max is not None and (plan.mag_max is None or brightness.mag_max < plan.mag_max):
            plan.mag_max, plan.mag_max_inclusive = brightness.mag_max, brightness.mag_max_inclusive
        if brightness.mag_min is not None:
            plan.mag_min = brightness.mag_min
        plan.notes.append(f"brightness: {brightness.words}")
    if plan.mode != "cone" and not brightness and not fields:
        return _free_text(plan, resolver, corpus)

    subject = parse_subject(subject_words)
    if plan.types is None and subject.types is not None:
        plan.types = subject.types
        plan.notes.append(f"type: {subject.type_words}")
    if plan.constellation is None and subject.constellation is not None:
        plan.constellation = subject.constellation
        plan.notes.append(f"in {subject.constellation}")
    if plan.mode != "cone":
        plan.mode = "catalogue"
    plan.ranker_text = " ".join(subject.rest) or None
    if plan.ranker_text:
        plan.notes.append(f"{plan.ranker_text!r} ranked by the learned ranker within these limits")
    elif plan.order:
        plan.notes.append(f"ordered by magnitude, {plan.order} first")
    elif plan.mode == "cone":
        plan.notes.append("ordered by separation")
    else:
        plan.order = "brightest"
        plan.notes.append("ordered by magnitude, brightest first")
    return plan


def _apply_fields(plan: QueryPlan, fields: Fields) -> None:
    plan.types, plan.constellation = fields.types, fields.constellation
    plan.mag_max, plan.mag_min = fields.mag_max, fields.mag_min
    plan.mag_max_inclusive, plan.mag_min_inclusive = fields.mag_max_inclusive, fields.mag_min_inclusive
    if fields:
        plan.notes.append("fields: " + " ".join(fields.read))
    plan.radius_deg = fields.radius_deg


def _cone(plan: QueryPlan, center: Center, radius, field_radius_deg: float) -> None:
    plan.mode, plan.center = "cone", center
    if radius is not None:
        plan.radius_deg = float(radius.deg)
    if plan.radius_deg is None:
        plan.radius_deg = field_radius_deg
    plan.notes.append(f"cone search within {_angle_text(plan.radius_deg)} of {center.label}")


def _free_text(plan: QueryPlan, resolver: NameResolver, corpus) -> QueryPlan:
    fuzzy = resolver.fuzzy(plan.text)
    if fuzzy is not None:
        plan.mode, plan.name = "name", fuzzy
        # the ranker orders the objects by the name as spelt, as for an exact match: the typo's
        # words would tie M51 with its companion, which one names.dat source calls "Whirlpool Galaxy" too
        plan.ranker_text = resolver.label(fuzzy.key)
        plan.notes.append(
            f"{fuzzy.text!r} read as {resolver.label(fuzzy.key)!r} ({fuzzy.edits} edit"
            f"{'s' if fuzzy.edits > 1 else ''}): {_names(fuzzy.rows, corpus)}"
        )
    return plan


def _names(rows, corpus) -> str:
    return "; ".join(", ".join(corpus.names[i][:2]) for i in rows[:3]) + (" ..." if len(rows) > 3 else "")


def _angle_text(deg: float) -> str:
    if deg >= 1.0:
        return f"{deg:g}°"
    if deg * 60 >= 1.0:
        return f"{deg * 60:g}′"
    return f"{deg * 3600:g}″"
