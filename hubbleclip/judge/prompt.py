"""The judge's prompt: rules, worked examples, a yes/no answer schema, and how answers are read.

Bump ``JUDGE_VERSION`` whenever the wording or the examples change: it is part of the cache key.
"""

from __future__ import annotations

import json
import re
from typing import Any

from hubbleclip.captions.task import LLMTask

JUDGE_VERSION = "judge-v2"

SYSTEM = (
    "You check the results of an astronomy image search. You get a search query and the catalog "
    "description of the object shown in one result image. Answer yes when the object is what the "
    "query asks for: the same kind of object, and the constellation, brightness or science topic "
    "where the query names one. Otherwise answer no. Answer as JSON."
)

# (query, description, relevant): one yes and one no for each way a query can be specific
EXAMPLES = [
    (
        "planetary nebulae in Lyra",
        "NGC 6720 (also M57, Ring Nebula) is a planetary nebula in the constellation Lyra. "
        "Magnitudes: V 8.8.",
        True,
    ),
    (
        "open clusters in the constellation Cassiopeia",
        "NGC 869 is a open cluster in the constellation Perseus. Magnitudes: V 5.3.",
        False,
    ),
    (
        "objects to study active galactic nuclei, radio jets",
        "A FRII radio galaxy observed by the FIRST radio survey at 1.4 GHz. FRII radio galaxies have "
        "edge-brightened lobes with hotspots far from the host galaxy.",
        True,
    ),
    (
        "brightest globular clusters",
        "NGC 4565 is a spiral galaxy in the constellation Coma Berenices. Magnitudes: V 9.6.",
        False,
    ),
]

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"relevant": {"type": "string", "enum": ["yes", "no"]}},
    "required": ["relevant"],
}


def _is_numeric(sentence: str) -> bool:
    words = sentence.split()
    return bool(words) and sum(any(c.isdigit() for c in w) for w in words) >= 0.25 * len(words)


def judge_text(text: str, text_chars: int = 400, keep_numbers: bool = True) -> str:
    """The source text as the judge sees it, cut to ``text_chars``.  Unless ``keep_numbers``,
    sentences that are mostly numbers (coordinates, sizes, magnitudes, redshifts, identifiers) are
    dropped first: they cost many tokens (SmolLM2-135M agreed less with the catalog without them)."""
    sentences = re.split(r"(?<=[.!?])\s+", " ".join(text.split()))
    kept = sentences if keep_numbers else [s for s in sentences if not _is_numeric(s)] or sentences
    return " ".join(kept)[:text_chars]


def judge_item(query: str, text: str, text_chars: int = 400, keep_numbers: bool = True) -> str:
    """One (query, source text) pair as the string the cache hashes and the prompt is built from."""
    return json.dumps(
        {"query": query, "text": judge_text(text, text_chars, keep_numbers)}, ensure_ascii=False
    )


def _user(query: str, text: str) -> str:
    return f"Query: {query}\nResult: {text}"


def judge_messages(item: str) -> list[dict[str, str]]:
    pair = json.loads(item)
    messages = [{"role": "system", "content": SYSTEM}]
    for query, text, relevant in EXAMPLES:
        messages.append({"role": "user", "content": _user(query, text)})
        messages.append(
            {"role": "assistant", "content": json.dumps({"relevant": "yes" if relevant else "no"})}
        )
    messages.append({"role": "user", "content": _user(pair["query"], pair["text"])})
    return messages


def parse_judgement(raw: str) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc.msg} at char {exc.pos}): {raw[:80]!r}") from exc
    answer = data.get("relevant") if isinstance(data, dict) else None
    if answer not in ("yes", "no"):
        raise ValueError(f'expected {{"relevant": "yes" | "no"}}, got {raw[:80]!r}')
    return {"relevant": answer == "yes"}


def judge_task(max_new_tokens: int = 16) -> LLMTask:
    return LLMTask(
        key=f"{JUDGE_VERSION}/tok{max_new_tokens}",
        schema=SCHEMA,
        messages=judge_messages,
        parse=parse_judgement,
        fields=("relevant",),
    )
