"""Resolve a name or designation to corpus objects: exact lookups first, fuzzy ones only without.

Every name and OpenNGC identifier of every object goes into one table under its
:func:`~hubbleclip.data.designations.name_key`.  A query resolves when, after trimming
filler words at its edges ("where is the ...", "... position"), it *is* one of those keys: the
exact tier.  Only when nothing resolves exactly does the fuzzy tier run (rapidfuzz, optimal
string alignment distance, so a swap of two letters is one edit):

* common names: at most 1 edit for names of 4-7 characters, 2 for longer ones, none below 4;
* catalogue words: "mesier 42", "ncg 224" (1 edit from 3 letters, 2 from 7); the number must
  match exactly, since a changed digit is another object, not a typo;
* Bayer / Flamsteed names ("61 Cygni") are never fuzzed: a changed letter or number is another star.

So a fuzzy match can never outrank an exact one: it is not even looked for when one exists.
A common name that is also a constellation's name ("Triangulum") is left out of the table.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz import process
from rapidfuzz.distance import OSA

from hubbleclip.data.designations import (
    CATALOGUE_SYNONYMS,
    catalogue_word,
    common_name_key,
    constellation_abbreviation,
    designation_key,
    fold,
    name_key,
    star_key,
)
from hubbleclip.search.text import STOPWORDS

EDGE_WORDS = STOPWORDS | {"position", "coordinates", "called", "named", "star", "the"}
MIN_FUZZY_CHARS = 4
LONG_NAME_CHARS = 8  # from here on a name may carry 2 typos
LONG_CATALOGUE_WORD = 7


def allowed_edits(name: str) -> int:
    """Edits a fuzzy match may differ by from ``name`` (by the name's length, not the query's)."""
    n = len(name.replace(" ", ""))
    return 0 if n < MIN_FUZZY_CHARS else 1 if n < LONG_NAME_CHARS else 2


def allowed_catalogue_edits(word: str) -> int:
    """Catalogue words are short and few: one edit from 3 letters ('ncg'), two from 7 ('mesier')."""
    return 0 if len(word) < 3 else 1 if len(word) < LONG_CATALOGUE_WORD else 2


@dataclass(frozen=True)
class NameMatch:
    rows: tuple[int, ...]  # corpus indices carrying the name
    how: str  # "exact" or "fuzzy"
    key: str  # the table key that matched
    edits: int  # 0 for exact matches
    text: str  # the part of the query that was read as the name


class NameResolver:
    def __init__(self, table: dict[str, tuple[int, ...]], shown: dict[str, str]):
        self.table, self.shown = table, shown
        self.fuzzy_names = [k for k in table if designation_key(k) is None and allowed_edits(k) > 0]
        words = {catalogue_word(k) for k in table} - {None}
        self._catalogue_words = {w: w for w in words if len(w) >= 3}
        self._catalogue_words.update({s: c for s, c in CATALOGUE_SYNONYMS.items() if c in words})

    @classmethod
    def from_corpus(cls, corpus) -> NameResolver:
        """A table over every object's names and identifiers (``corpus.identifiers``)."""
        return cls.from_aliases([*n, *i] for n, i in zip(corpus.names, corpus.identifiers))

    @classmethod
    def from_aliases(cls, aliases: Iterable[Iterable[str]]) -> NameResolver:
        """A table over the names of each row (any list of rows: a corpus's objects, an image
        index's images); ``resolve`` then answers row numbers in that order."""
        table: dict[str, list[int]] = defaultdict(list)
        shown: dict[str, str] = {}
        for i, names in enumerate(aliases):
            for alias in filter(None, names):  # an image without an object id has None
                key = designation_key(alias)
                if key is None:
                    if constellation_abbreviation(alias):
                        continue
                    key = common_name_key(alias)
                if not key:
                    continue
                if not table[key] or table[key][-1] != i:
                    table[key].append(i)
                shown.setdefault(key, alias)
        return cls({k: tuple(v) for k, v in table.items()}, shown)

    def restricted(self, visible) -> NameResolver:
        """The same table over the ``visible`` entries only (a boolean mask over the corpus)."""
        table = {}
        for key, rows in self.table.items():
            kept = tuple(i for i in rows if visible[i])
            if kept:
                table[key] = kept
        return NameResolver(table, {k: self.shown[k] for k in table})

    def resolve(self, text: str) -> NameMatch | None:
        """The objects ``text`` names: exactly if any trimming of it is a name, else fuzzily."""
        return self.exact(text) or self.fuzzy(text)

    def exact(self, text: str) -> NameMatch | None:
        for span in _trimmed_spans(text):
            key = name_key(span)
            if key in self.table:
                return NameMatch(self.table[key], "exact", key, 0, span)
        return None

    def fuzzy(self, text: str) -> NameMatch | None:
        """The closest name within the allowed edits (callers ask only after ``exact`` failed)."""
        for span in _trimmed_spans(text):
            if constellation_abbreviation(span):
                continue  # "Lyra" is a constellation, not a misspelt name
            match = self._fuzzy(span)
            if match:
                return match
        return None

    def _fuzzy(self, span: str) -> NameMatch | None:
        if star_key(span):
            return None  # 'bet Cyg' that is not in the table is another star, not a typo
        key = name_key(span)
        word = catalogue_word(key) if designation_key(span) else None
        if word is not None:
            return self._fuzzy_catalogue(span, key, word)
        if len(key.replace(" ", "")) < MIN_FUZZY_CHARS:
            return None
        found = process.extract(key, self.fuzzy_names, scorer=OSA.distance, score_cutoff=2, limit=None)
        found = [(name, d) for name, d, _ in found if d <= allowed_edits(name)]
        if not found:
            return None
        best = min(d for _, d in found)
        rows = sorted({i for name, d in found if d == best for i in self.table[name]})
        name = min(n for n, d in found if d == best)
        return NameMatch(tuple(rows), "fuzzy", name, best, span)

    def _fuzzy_catalogue(self, span: str, key: str, word: str) -> NameMatch | None:
        if word in self._catalogue_words:
            return None  # a real catalogue word: its numbers are not fuzzed
        number = key[len(word) + 1 :]
        found = process.extract(
            word, list(self._catalogue_words), scorer=OSA.distance, score_cutoff=2, limit=None
        )
        fixed_keys = ((d, f"{self._catalogue_words[w]} {number}", w) for w, d, _ in found)
        hits = sorted(
            (d, fixed)
            for d, fixed, w in fixed_keys
            if d <= allowed_catalogue_edits(w) and fixed in self.table
        )
        if not hits or (len(hits) > 1 and hits[0][0] == hits[1][0] and hits[0][1] != hits[1][1]):
            return None  # no catalogue, or two equally close ones ('mgc' -> ngc or pgc?)
        edits, fixed = hits[0]
        return NameMatch(self.table[fixed], "fuzzy", fixed, edits, span)

    def label(self, key: str) -> str:
        return self.shown.get(key, key)


def _trimmed_spans(text: str) -> list[str]:
    """``text`` and its versions without filler words at either edge, least trimmed first."""
    words = fold(text).replace("?", " ").replace("!", " ").split()
    lead = 0
    while lead < len(words) and words[lead] in EDGE_WORDS:
        lead += 1
    trail = len(words)
    while trail > lead and words[trail - 1] in EDGE_WORDS:
        trail -= 1
    spans = [" ".join(words[i:j]) for i in range(lead + 1) for j in range(len(words), trail - 1, -1) if i < j]
    return sorted(dict.fromkeys(spans), key=lambda s: -len(s))
