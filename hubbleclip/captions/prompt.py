"""The summarisation prompt: rules, a few worked examples, and the chat messages built from them.

Bump ``PROMPT_VERSION`` whenever the wording or the examples change: it is part of the cache key.
"""

from __future__ import annotations

import json
import re

PROMPT_VERSION = "v2"
MAX_TEXT_CHARS = 2000  # long abstracts are cut: prefill dominates the cost on a CPU

SYSTEM = (
    "You turn an astronomy text into a short image caption, as JSON with two lists.\n"
    "objects_and_phenomena: the kinds of objects and physical phenomena the text is about, "
    "copied from the text where possible.\n"
    "science_use_cases: what astronomers study with such objects.\n"
    "Rules: 1 to 5 items per list, each item 1 to 4 lowercase words; the two lists share no item. "
    "Name classes, not individual "
    "objects: no names, catalogue numbers, coordinates or other numbers. Never name a telescope, "
    "survey or instrument. No generic words such as object, image, data or astronomy. "
    "At most 80 words in total."
)

# (text, answer) pairs as earlier chat turns.  SmolLM2-135M copies from the examples a lot, so
# there are several short, diverse ones whose answers mostly copy phrases from their text
# (measured better than one long example, or examples inside the system message).
EXAMPLES = [
    (
        "M 13 (also NGC 6205) is a globular cluster in the constellation Hercules. Magnitudes: V 5.8.",
        {
            "objects_and_phenomena": ["globular cluster", "old stars"],
            "science_use_cases": ["stellar populations", "galactic halo"],
        },
    ),
    (
        "A FRII radio galaxy observed at 1.4 GHz. FRII radio galaxies have edge-brightened lobes with "
        "hotspots far from the host galaxy.",
        {
            "objects_and_phenomena": ["radio galaxy", "radio lobes", "hotspots"],
            "science_use_cases": ["active galactic nuclei", "relativistic jets"],
        },
    ),
    (
        "NGC 6960 (also Veil Nebula) is a supernova remnant in the constellation Cygnus. "
        "Apparent size 70' x 6'.",
        {
            "objects_and_phenomena": ["supernova remnant", "shock fronts"],
            "science_use_cases": ["supernova explosions", "interstellar medium"],
        },
    ),
    (
        "NGC 2841 is a spiral galaxy of Hubble type SAb in the constellation Ursa Major. Magnitudes: V 9.2.",
        {
            "objects_and_phenomena": ["spiral galaxy", "spiral arms"],
            "science_use_cases": ["galaxy structure", "star formation"],
        },
    ),
    (
        "We propose to image protoplanetary disks around young stars in nearby star-forming regions to "
        "measure the gaps that forming planets open in the dust.",
        {
            "objects_and_phenomena": ["protoplanetary disks", "young stars", "dust gaps"],
            "science_use_cases": ["planet formation"],
        },
    ),
]


_PARENS = re.compile(r"\([^()]*\)")
# a catalogue designation ("NGC 1952", "M1", "IC 434", "ESO056-115") or any token with a digit
_DESIGNATION = re.compile(
    r"\b(?:NGC|IC|M|B|C|Sh2|ESO|UGC|PGC|LBN|LDN|IRAS|Abell|Cl|HD|HIP)\s?-?\d[\w+.:-]*|\S*\d\S*"
)


def clean_text(text: str) -> str:
    """Drop names, numbers and coordinates before prompting: the rules forbid them in the caption,
    and a small model copies whatever identifier the text starts with.  Sentences that were mostly
    identifiers are dropped whole."""
    kept = []
    for sentence in re.split(r"(?<=[.!?])\s+", " ".join(text.split())):
        sentence = _PARENS.sub(" ", sentence)
        words = sentence.split()
        cleaned = _DESIGNATION.sub(" ", sentence)
        cleaned = re.sub(r"\s+([,.;:])", r"\1", " ".join(cleaned.split())).strip(" ,;:")
        if words and len(cleaned.split()) >= 0.7 * len(words):
            end = sentence[-1] if sentence[-1] in ".!?" and not cleaned.endswith(sentence[-1]) else ""
            kept.append(cleaned[:1].upper() + cleaned[1:] + end)
    return " ".join(kept) or " ".join(text.split())


def chat_messages(text: str) -> list[dict[str, str]]:
    """System rules, the worked examples as earlier turns, then the text to summarise."""
    messages = [{"role": "system", "content": SYSTEM}]
    for example, answer in EXAMPLES:
        messages.append({"role": "user", "content": clean_text(example)})
        messages.append({"role": "assistant", "content": json.dumps(answer)})
    messages.append({"role": "user", "content": clean_text(text)[:MAX_TEXT_CHARS]})
    return messages
