"""What a structured query is about: object types and a constellation named in its words.

"brightest globular clusters in Sagittarius" -> types {globular cluster}, constellation
Sagittarius; "galaxies near M81" -> every galaxy type.  Words are matched through the same
stemmed tokens as BM25 (``hubbleclip.search.text``), longest phrase first, so "planetary
nebulae" is the planetary nebula type and not the nebula family.  A family word on its own
("galaxies", "nebulae", "clusters", "stars") stands for every type of the family, and a type
includes its more specific forms ("spiral galaxies" includes barred spirals).  The words left
over are returned for the learned ranker.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from hubbleclip.data.designations import constellation_abbreviation
from hubbleclip.data.schema import OPENNGC_TYPES
from hubbleclip.data.text import constellation_names
from hubbleclip.search.text import FAMILIES, cached_tokens, contains_phrase, type_phrases

NOISE = ("constellation", "constellations", "type", "types", "catalog", "catalogue")


@dataclass(frozen=True)
class Subject:
    types: frozenset[str] | None  # type labels, None when the words name no type
    type_words: str  # the words read as the type, for the note
    constellation: str | None  # IAU full name
    rest: tuple[str, ...]  # words that are neither type, constellation nor filler


@lru_cache(maxsize=1)
def _phrases() -> list[tuple[tuple[str, ...], frozenset[str]]]:
    """(token phrase, the type labels it names), longest phrase first."""
    labels: dict[tuple[str, ...], set[str]] = {}
    for label, forms in type_phrases().items():
        for form in forms:
            labels.setdefault(tuple(form), set()).add(label)
    for family, members in FAMILIES.items():
        for token in cached_tokens(family):
            labels[(token,)] = set(members)
    # a type includes its more specific forms: "spiral galaxy" covers "barred spiral galaxy"
    named = {phrase: set(found) for phrase, found in labels.items()}
    for phrase, found in named.items():
        for label, forms in type_phrases().items():
            if any(len(f) > len(phrase) and contains_phrase(f, phrase) for f in forms) and len(phrase) > 1:
                found.add(label)
    return sorted(((p, frozenset(v)) for p, v in named.items()), key=lambda pv: -len(pv[0]))


@lru_cache(maxsize=1)
def _constellation_phrases() -> list[tuple[tuple[str, ...], str]]:
    out = [(tuple(cached_tokens(name)), name) for name in constellation_names().values()]
    return sorted(out, key=lambda pn: -len(pn[0]))


def type_labels(value: str) -> frozenset[str] | None:
    """The labels a ``type:`` value names: an OpenNGC code (``PN``, ``GCl``) or type words."""
    code = {c.lower(): label for c, label in OPENNGC_TYPES.items()}.get(value.strip().lower())
    if code:
        return frozenset({code})
    subject = parse_subject(value.split())
    return subject.types if subject.types and not subject.rest else None


def constellation(value: str) -> str | None:
    """A ``con:`` value (``Lyr``, ``lyra``, ``"Canes Venatici"``) as the IAU full name."""
    abbr = constellation_abbreviation(value)
    if abbr is None:
        return None
    return next(name for a, name in constellation_names().items() if a.lower() == abbr)


def _find(tokens: list[str | None], phrase: tuple[str, ...]) -> int:
    n = len(phrase)
    for i in range(len(tokens) - n + 1):
        if tuple(tokens[i : i + n]) == phrase:
            return i
    return -1


def parse_subject(words: list[str]) -> Subject:
    """Types, constellation and left-over words of ``words``."""
    owner: list[int] = []  # the word each token came from
    tokens: list[str | None] = []
    for w, word in enumerate(words):
        for token in cached_tokens(word):
            tokens.append(token)
            owner.append(w)
    used: set[int] = set()  # token positions that were read
    types: set[str] = set()
    type_words: list[str] = []
    for phrase, labels in _phrases():
        while (at := _find(tokens, phrase)) >= 0:
            types |= labels
            type_words.append(" ".join(words[owner[at] : owner[at + len(phrase) - 1] + 1]))
            for j in range(at, at + len(phrase)):
                tokens[j] = None
                used.add(j)
    found_const = None
    for phrase, name in _constellation_phrases():
        at = _find(tokens, phrase)
        if at >= 0:
            found_const = name
            for j in range(at, at + len(phrase)):
                tokens[j] = None
                used.add(j)
            break
    read_words = {owner[j] for j in used}
    rest = tuple(
        word
        for w, word in enumerate(words)
        if w not in read_words and cached_tokens(word) and word.lower() not in NOISE
    )
    return Subject(frozenset(types) or None, ", ".join(type_words), found_const, rest)
