"""The caption schema (PAPERCLIP's two lists) and the caption string built from it.

Items are short lowercase phrases.  The JSON schema given to the LLM is stricter than the rules
checked afterwards (word pattern, fewer items) because a small model rambles when it may.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints, ValidationError, field_validator, model_validator

MIN_ITEMS, MAX_ITEMS = 1, 5
MAX_WORDS = 80
# 1-4 words of letters, hyphens inside words ("star-forming"), no digits.  Capitals are allowed
# while generating (a small model goes astray when its natural first token is forbidden) and
# lowercased on validation.
ITEM_PATTERN = r"^[A-Za-z][A-Za-z-]{1,19}( [A-Za-z][A-Za-z-]{0,19}){0,3}$"

# Rules PAPERCLIP gives its summariser: never name the telescope/instrument, no generic terms.
INSTRUMENT_WORDS = frozenset(
    [
        "hubble",
        "hst",
        "jwst",
        "webb",
        "chandra",
        "spitzer",
        "herschel",
        "alma",
        "vla",
        "vlba",
        "lofar",
        "meerkat",
        "askap",
        "gaia",
        "kepler",
        "tess",
        "galex",
        "wise",
        "sdss",
        "dss",
        "2mass",
        "first",
        "nvss",
        "eso",
        "vlt",
        "keck",
        "gemini",
        "subaru",
        "palomar",
        "acs",
        "wfc",
        "wfpc",
        "nicmos",
        "stis",
        "cos",
        "nircam",
        "miri",
        "nirspec",
        "niriss",
        "telescope",
        "telescopes",
        "instrument",
        "instruments",
        "camera",
        "spectrograph",
        "survey",
    ]
)
# classes, not instances: catalogue prefixes mark an object's name
CATALOG_WORDS = frozenset(
    ["ngc", "ic", "messier", "caldwell", "ugc", "pgc", "eso", "iras", "abell", "sharpless", "barnard"]
)
GENERIC_WORDS = frozenset(
    [
        "object",
        "objects",
        "thing",
        "things",
        "astronomy",
        "astronomical",
        "image",
        "images",
        "data",
        "observation",
        "observations",
        "study",
        "studies",
        "science",
        "research",
        "analysis",
        "various",
        "other",
        "stuff",
        "information",
        "description",
        "text",
        "label",
    ]
)

Item = Annotated[str, StringConstraints(pattern=ITEM_PATTERN)]


class CaptionSummary(BaseModel):
    """What the LLM returns: classes of objects/phenomena, and the science they serve."""

    objects_and_phenomena: list[Item] = Field(min_length=MIN_ITEMS, max_length=MAX_ITEMS)
    science_use_cases: list[Item] = Field(min_length=MIN_ITEMS, max_length=MAX_ITEMS)

    @field_validator("objects_and_phenomena", "science_use_cases", mode="after")
    @classmethod
    def _clean(cls, items: list[str]) -> list[str]:
        # tiny models repeat themselves and slip in banned words: keep the usable items only
        kept: list[str] = []
        for item in (i.lower() for i in items):
            words = set(re.split(r"[ -]", item))
            if (
                item not in kept
                and not words & (INSTRUMENT_WORDS | CATALOG_WORDS)
                and not words <= GENERIC_WORDS
            ):
                kept.append(item)
        if not kept:
            raise ValueError(f"no usable item in {items} (duplicates, instrument names or generic words)")
        return kept

    @model_validator(mode="after")
    def _distinct_lists(self) -> CaptionSummary:
        # a small model often copies its first list into the second: that says nothing new
        uses = [u for u in self.science_use_cases if u not in self.objects_and_phenomena]
        if not uses:
            raise ValueError("science_use_cases only repeats objects_and_phenomena")
        self.science_use_cases = uses
        return self

    def caption(self) -> str:
        return format_caption(self)


def generation_schema(max_items: int = MAX_ITEMS) -> dict[str, Any]:
    """The JSON schema that constrains generation: the summary schema with ``max_items`` per list."""
    if not MIN_ITEMS <= max_items <= MAX_ITEMS:
        raise ValueError(f"max_items: expected {MIN_ITEMS}..{MAX_ITEMS}, got {max_items}")
    schema = CaptionSummary.model_json_schema()
    for prop in schema["properties"].values():
        prop["maxItems"] = max_items
    return schema


def format_caption(summary: CaptionSummary) -> str:
    """``"<objects, ...>; <use cases, ...>"``, PAPERCLIP's caption string."""
    return f"{', '.join(summary.objects_and_phenomena)}; {', '.join(summary.science_use_cases)}"


def parse_output(raw: str) -> CaptionSummary:
    """Validate an LLM's JSON output; raise ValueError saying what is wrong."""
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc.msg} at char {exc.pos}): {raw[:80]!r}") from exc
    try:
        summary = CaptionSummary.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ValueError(f"schema: {'.'.join(map(str, first['loc']))}: {first['msg']}") from exc
    words = len(format_caption(summary).replace(";", " ").replace(",", " ").split())
    if words > MAX_WORDS:
        raise ValueError(f"caption has {words} words, more than {MAX_WORDS}")
    return summary


def parse_caption(caption: str) -> CaptionSummary:
    """Read a caption string back into the schema (for checking captions stored in a dataset)."""
    if caption.count(";") != 1:
        raise ValueError(f"expected exactly one ';' in {caption!r}")
    objects, uses = (part.strip() for part in caption.split(";"))
    data = {
        "objects_and_phenomena": [s.strip() for s in objects.split(",") if s.strip()],
        "science_use_cases": [s.strip() for s in uses.split(",") if s.strip()],
    }
    return parse_output(json.dumps(data))
