"""Brightness words of a query: an order by magnitude, a magnitude limit, or both.

* ``brightest``, ``bright`` -> brightest first; ``faintest``, ``faint`` -> faintest first;
* ``brighter than [mag|magnitude] 8`` -> mag < 8, ``fainter than 12`` -> mag > 12;
* ``naked-eye`` / ``naked eye`` -> mag <= 6, brightest first.

Magnitudes are the corpus's (V where known, else B, J, H, K).  The query syntax's ``mag<10``
is read by :mod:`hubbleclip.search.syntax`.
"""

from __future__ import annotations

from dataclasses import dataclass

BRIGHTEST = ("brightest", "bright")
FAINTEST = ("faintest", "faint")
NAKED_EYE_MAG = 6.0
MAG_WORDS = ("mag", "mag.", "magnitude", "magnitudes", "v")


@dataclass(frozen=True)
class Brightness:
    order: str | None = None  # "brightest" | "faintest" | None
    mag_max: float | None = None
    mag_min: float | None = None
    mag_max_inclusive: bool = False  # naked-eye is mag <= 6, "brighter than 6" is mag < 6
    words: str = ""  # what was read, for the note

    def __bool__(self) -> bool:
        return self.order is not None or self.mag_max is not None or self.mag_min is not None


def _number(word: str) -> float | None:
    try:
        return float(word)
    except ValueError:
        return None


def parse_brightness(words: list[str]) -> tuple[Brightness, list[str]]:
    """The brightness intent of ``words`` and the words that remain."""
    lowered = [w.lower().strip(",.?!") for w in words]
    order = mag_max = mag_min = None
    inclusive = False
    read: list[str] = []
    keep = [True] * len(words)
    i = 0
    while i < len(words):
        word = lowered[i]
        if word in ("brighter", "fainter") and i + 1 < len(words) and lowered[i + 1] == "than":
            j = i + 2
            if j < len(words) and lowered[j] in MAG_WORDS:
                j += 1
            value = _number(lowered[j]) if j < len(words) else None
            if value is not None:
                if word == "brighter":
                    mag_max, inclusive = value, False
                else:
                    mag_min = value
                read.append(" ".join(words[i : j + 1]))
                keep[i : j + 1] = [False] * (j + 1 - i)
                i = j + 1
                continue
        if word in ("naked-eye", "naked") and (word == "naked-eye" or lowered[i + 1 : i + 2] == ["eye"]):
            end = i + (1 if word == "naked-eye" else 2)
            mag_max, inclusive, order = NAKED_EYE_MAG, True, order or "brightest"
            read.append(" ".join(words[i:end]))
            keep[i:end] = [False] * (end - i)
            i = end
            continue
        if word in BRIGHTEST or word in FAINTEST:
            order = order or ("brightest" if word in BRIGHTEST else "faintest")
            read.append(words[i])
            keep[i] = False
        i += 1
    rest = [w for w, k in zip(words, keep) if k]
    return Brightness(order, mag_max, mag_min, inclusive, ", ".join(read)), rest
