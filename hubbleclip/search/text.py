"""Query and document text handling shared by BM25, the features and the query generator.

One tokenizer feeds both BM25 engines (bm25s and rank_bm25), so their scores can be compared
term for term.  Catalogue designations are glued to their numbers ("NGC 224", "ngc224" and
"NGC0224" all become ``ngc224``) so that a designation is one rare token rather than a common
prefix plus a number shared by thousands of objects.
"""

from __future__ import annotations

import re
from functools import lru_cache

from bm25s.stopwords import STOPWORDS_EN

from hubbleclip.data.schema import FIRST_CLASSES, GALAXY_CLASSES, OPENNGC_TYPES

# words people put around a search that say nothing about the object
QUERY_FILLER = (
    "where",
    "show",
    "me",
    "find",
    "what",
    "which",
    "look",
    "see",
    "sky",
    "located",
    "location",
    "object",
    "objects",
    "please",
    "can",
    "i",
)
STOPWORDS = frozenset(STOPWORDS_EN) | frozenset(QUERY_FILLER)
BRIGHT_WORDS = ("bright", "brightest", "naked-eye", "naked eye", "visible", "easy", "showpiece")

_DESIGNATION = re.compile(r"\b(m|ngc|ic|ugc|pgc|mel|cr|ldn|lbn|rcw|vdb|abell|hip|hd|sh2|sh 2)[\s-]*0*(\d+)\b")
_TOKEN = re.compile(r"[a-z0-9]+")


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


def normalise(text: str) -> str:
    """Lower case, designations glued to their numbers: 'Where is NGC 0224?' -> 'where is ngc224?'."""
    text = text.lower().replace("sh 2-", "sh2 ")
    return _DESIGNATION.sub(lambda m: m.group(1).replace(" ", "") + m.group(2), text)


def tokenize(text: str) -> list[str]:
    """Normalised, stop-word-free, Snowball-stemmed tokens."""
    words = [w for w in _TOKEN.findall(normalise(text)) if w not in STOPWORDS]
    return _stemmer().stemWords(words)


@lru_cache(maxsize=8192)
def cached_tokens(text: str) -> tuple[str, ...]:
    """Tokens of a short, often repeated string (a type label, a constellation name)."""
    return tuple(tokenize(text))


def tokenize_many(texts: list[str]) -> list[list[str]]:
    return [tokenize(t) for t in texts]


def contains_phrase(query_tokens, phrase_tokens) -> bool:
    """True when ``phrase_tokens`` occur contiguously in ``query_tokens``."""
    query_tokens, phrase_tokens = list(query_tokens), list(phrase_tokens)
    n = len(phrase_tokens)
    if n == 0:
        return False
    return any(query_tokens[i : i + n] == phrase_tokens for i in range(len(query_tokens) - n + 1))


def plural(label: str) -> str:
    """'planetary nebula' -> 'planetary nebulae', 'galaxy pair' -> 'galaxy pairs'."""
    if " with " in label:
        noun, rest = label.split(" with ", 1)
        return f"{plural(noun)} with {rest}"
    head, _, last = label.rpartition(" ")
    if last == "nebula":
        last = "nebulae"
    elif last.endswith("y") and not last.endswith("ay"):
        last = last[:-1] + "ies"
    elif last == "HII":
        return label
    elif not last.endswith("s"):
        last += "s"
    return f"{head} {last}".strip()


# type families: a query naming the family ("nebulae", "galaxies") half-matches every member
FAMILIES = {
    "galaxy": (
        *GALAXY_CLASSES,
        "galaxy pair",
        "galaxy triplet",
        "galaxy group",
        "galaxy cluster",
        *FIRST_CLASSES.values(),
    ),
    "nebula": (
        "planetary nebula",
        "HII region",
        "dark nebula",
        "emission nebula",
        "nebula",
        "reflection nebula",
        "supernova remnant",
        "star cluster with nebula",
    ),
    "cluster": ("open cluster", "globular cluster", "star cluster with nebula", "stellar association"),
    "star": ("star", "double star", "nova star"),
}
TYPE_SYNONYMS = {
    "HII region": ("h ii region", "hii region", "emission nebula"),
    "supernova remnant": ("snr",),
    "double star": ("binary star",),
    "globular cluster": ("globular",),
    "planetary nebula": ("planetary",),
    "FRII radio galaxy": ("fr ii", "frii"),
    "FRI radio galaxy": ("fr i", "fri"),
}


@lru_cache(maxsize=1)
def type_phrases() -> dict[str, list[list[str]]]:
    """Type label -> token sequences that name it in a query (singular, plural, synonyms)."""
    labels = set(OPENNGC_TYPES.values()) | set(GALAXY_CLASSES) | set(FIRST_CLASSES.values())
    labels |= {"galaxy cluster", "deep field source"}
    out = {}
    for label in labels:
        forms = {label.lower(), plural(label).lower(), *TYPE_SYNONYMS.get(label, ())}
        out[label] = [list(cached_tokens(f)) for f in forms]
    return out


def type_family(label: str) -> str | None:
    for family, members in FAMILIES.items():
        if label in members:
            return family
    return None


def type_mention(query_tokens: list[str], label: str) -> float:
    """1 when the query names this type, 0.5 when it names only its family, else 0."""
    if any(contains_phrase(query_tokens, p) for p in type_phrases().get(label, ())):
        return 1.0
    family = type_family(label)
    if family and any(t in query_tokens for t in cached_tokens(f"{family} {plural(family)}")):
        return 0.5
    return 0.0


def mentions_brightness(query: str) -> bool:
    q = query.lower()
    return any(w in q for w in BRIGHT_WORDS)
