"""What a caption backend is: something that turns chat messages into constrained JSON strings."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Protocol

from hubbleclip.errors import UserError


@dataclasses.dataclass(frozen=True)
class Sampling:
    """Decoding settings: greedy on the first attempt, sampling on retries (greedy would repeat itself)."""

    max_new_tokens: int = 96
    temperature: float = 0.8
    top_p: float = 0.95

    @staticmethod
    def seed(attempt: int, messages: list[dict[str, str]]) -> int:
        """The seed of one sampled answer, from the attempt and the prompt: a text's retry gives the
        same answer whatever texts share its batch, and whichever backend or batch size runs it."""
        digest = hashlib.sha256(json.dumps([attempt, messages], sort_keys=True).encode()).digest()
        return int.from_bytes(digest[:4], "little")


class BackendUnavailable(UserError):
    """The backend cannot serve at all (server unreachable, key refused, unknown model): the run
    stops instead of recording every text as failed; a rerun resumes from the cache."""


class Backend(Protocol):
    name: str  # identifies the model in the cache key
    max_batch: int  # how many prompts one call may take
    # optional ``concurrency: int``: calls that may run at once from threads (a served model)

    def generate(self, conversations: list[list[dict[str, str]]], attempt: int) -> list[str]:
        """One raw output string per conversation (JSON constrained by the caption schema)."""
        ...
