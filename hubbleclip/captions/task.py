"""What an LLM call is for: the prompt built from an item, the JSON schema that constrains the
answer, and how an answer is read.  Captions and relevance judgements share one generation loop
(batching, retries, cache and resume) and differ only in their task."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hubbleclip.captions.prompt import PROMPT_VERSION, chat_messages
from hubbleclip.captions.schema import generation_schema, parse_output


@dataclass(frozen=True)
class LLMTask:
    key: str  # prompt version and settings: part of the cache key, with the model and the item
    schema: dict[str, Any]  # JSON schema the backend constrains (or asks the server to constrain)
    messages: Callable[[str], list[dict[str, str]]]  # chat messages for one item
    parse: Callable[[str], dict[str, Any]]  # raw answer -> fields of an "ok" record; ValueError if invalid
    fields: tuple[str, ...]  # the fields ``parse`` returns (None in a "failed" record)


def _caption_fields(raw: str) -> dict[str, Any]:
    summary = parse_output(raw)
    return {"caption": summary.caption(), "summary": summary.model_dump()}


def caption_task(max_items: int = 3, max_new_tokens: int = 96) -> LLMTask:
    return LLMTask(
        key=f"{PROMPT_VERSION}/items{max_items}/tok{max_new_tokens}",
        schema=generation_schema(max_items),
        messages=chat_messages,
        parse=_caption_fields,
        fields=("caption", "summary"),
    )
