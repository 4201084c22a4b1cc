"""Constrained batched generation that computes the shared part of every prompt once.

The caption (and judge) prompts are the same rules and worked examples followed by one short
text, so most of each prompt's prefill is the same work.  Here the chat turns every conversation
shares are run through the model once; their KV cache is copied for each batch, and each row is
laid out as ``[shared prefix][padding][own suffix]``: transformers derives position ids from the
attention mask, so every suffix continues at the prefix's end, exactly as without padding.
outlines' logits processor only reads each row's last token, so it constrains the same way.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

log = logging.getLogger(__name__)


class SharedPrefixGenerator:
    """``generate(conversations, **generate_kwargs)`` with outlines' ``logits_processor``."""

    def __init__(self, model, tokenizer, logits_processor, max_prefixes: int = 2):
        self.model = model
        self.tokenizer = tokenizer
        self.logits_processor = logits_processor
        self.max_prefixes = max_prefixes
        self._caches: dict[tuple[int, ...], Any] = {}  # prefix token ids -> its KV cache (batch 1)

    def _split(self, messages: list[dict[str, str]]) -> tuple[tuple[int, ...], list[int]]:
        """Token ids of the turns before the last message, and of the rest of the prompt."""
        apply = self.tokenizer.apply_chat_template
        full = apply(messages, tokenize=False, add_generation_prompt=True)
        ids = self.tokenizer(full)["input_ids"]  # as outlines tokenizes the whole prompt
        if len(messages) > 1:
            head = apply(messages[:-1], tokenize=False)
            head_ids = self.tokenizer(head)["input_ids"] if full.startswith(head) else []
            # a token spanning the boundary would make the split differ from the whole: no sharing
            if head_ids and ids[: len(head_ids)] == head_ids and len(head_ids) < len(ids):
                return tuple(head_ids), ids[len(head_ids) :]
        return (), ids

    def _prefix_cache(self, prefix: tuple[int, ...]):
        import torch

        if prefix not in self._caches:
            if len(self._caches) >= self.max_prefixes:
                self._caches.pop(next(iter(self._caches)))
            out = self.model(input_ids=torch.tensor([prefix]), use_cache=True)
            self._caches[prefix] = out.cache
            log.debug("shared prompt prefix: %d tokens computed once", len(prefix))
        return self._caches[prefix]

    def generate(self, conversations: list[list[dict[str, str]]], **generate_kwargs) -> list[str]:
        split = [self._split(messages) for messages in conversations]
        outputs: list[str | None] = [None] * len(conversations)
        groups: dict[tuple[int, ...], list[int]] = {}
        for i, (prefix, _) in enumerate(split):
            groups.setdefault(prefix, []).append(i)
        for prefix, rows in groups.items():
            texts = self._generate_group(prefix, [split[i][1] for i in rows], generate_kwargs)
            for i, text in zip(rows, texts):
                outputs[i] = text
        return outputs  # type: ignore[return-value]

    def _generate_group(self, prefix: tuple[int, ...], suffixes: list[list[int]], kwargs: dict) -> list[str]:
        import torch
        from transformers import LogitsProcessorList

        pad = self.tokenizer.pad_token_id
        width = max(map(len, suffixes))
        rows, masks = [], []
        for suffix in suffixes:
            gap = width - len(suffix)
            rows.append(list(prefix) + [pad] * gap + suffix)
            masks.append([1] * len(prefix) + [0] * gap + [1] * len(suffix))
        input_ids = torch.tensor(rows)
        extra = {}
        if prefix:
            cache = copy.deepcopy(self._prefix_cache(prefix))
            cache.batch_repeat_interleave(len(suffixes))
            extra["cache"] = cache
        self.logits_processor.reset()
        out = self.model.generate(
            input_ids=input_ids,
            attention_mask=torch.tensor(masks),
            logits_processor=LogitsProcessorList([self.logits_processor]),
            pad_token_id=pad,
            **extra,
            **kwargs,
        )
        return self.tokenizer.batch_decode(out[:, input_ids.shape[1] :], skip_special_tokens=True)
