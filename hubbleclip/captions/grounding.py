"""How much of a caption is supported by its source text: stemmed keyword overlap plus synonyms."""

from __future__ import annotations

import re
from functools import lru_cache

# Astronomy synonyms the source texts use in another form (British/American spelling, Latin
# plurals, abbreviations); each group counts as one keyword.
SYNONYMS = [
    {"ionized", "ionised", "ionization", "ionisation", "hii", "emission"},
    {"nebula", "nebulae", "nebular", "nebulosity"},
    {"galaxy", "galaxies", "galactic", "extragalactic"},
    {"cluster", "clusters", "clustered"},
    {"star", "stars", "stellar"},
    {"radio", "synchrotron"},
    {"jet", "jets", "lobe", "lobes", "hotspot", "hotspots"},
    {"agn", "active", "nucleus", "nuclei", "quasar", "quasars"},
    {"supernova", "supernovae", "remnant", "snr"},
    {"dust", "dusty", "dark", "absorption"},
    {"formation", "forming", "young", "birth"},
    {"evolution", "evolve", "evolving", "evolved", "aging", "old"},
    {"spiral", "arms", "disk", "disc"},
    {"elliptical", "early-type"},
    {"binary", "double", "pair", "companion"},
    {"merger", "mergers", "interacting", "interaction"},
    {"globular", "halo"},
]


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer  # PyStemmer (Snowball), already a dependency of bm25s

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS)


@lru_cache(maxsize=1)
def _synonym_stems() -> dict[str, frozenset[str]]:
    out: dict[str, set[str]] = {}
    for group in SYNONYMS:
        stems = set(_stemmer().stemWords(sorted(w for phrase in group for w in phrase.split())))
        for stem in stems:
            out.setdefault(stem, set()).update(stems)
    return {k: frozenset(v) for k, v in out.items()}


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text.lower())


def keywords(caption: str) -> list[str]:
    """Distinct content-word stems of a caption."""
    words = [w for w in _words(caption) if w not in _stopwords() and len(w) > 2]
    return list(dict.fromkeys(_stemmer().stemWords(words)))


def grounded_fraction(caption: str, source: str) -> float | None:
    """Share of the caption's keywords found in the source text, directly or through a synonym."""
    keys = keywords(caption)
    if not keys:
        return None
    source_stems = set(_stemmer().stemWords(_words(source)))
    hits = sum(1 for k in keys if k in source_stems or _synonym_stems().get(k, frozenset()) & source_stems)
    return hits / len(keys)
