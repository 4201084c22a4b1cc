"""Constrained batched generation that computes the shared part of every prompt once.

The caption (and judge) prompts are the same rules and worked examples followed by one short
text, so most of each prompt's prefill is the same work.  Here the chat turns every conversation
shares are run through the model once; their KV cache is copied for each batch, and each row is
laid out as ``[shared prefix][padding][own suffix]``: transformers derives position ids from the
attention mask, so every suffix continues at the prefix's end, exactly as without padding.
outlines' logits processor only reads each row's last token, so it constrains the same way.

Sampled answers (retries) draw from one random stream per row, seeded from the row's prompt, so a
text's answer does not depend on which texts share its batch.  Without sharing (``share_prefix``
off) every prompt is prefilled whole, left-padded, as outlines' own batch generation does.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from hubbleclip.captions.backends.base import Sampling

log = logging.getLogger(__name__)


class SeededSampling:
    """Temperature and top-p sampling as transformers does it, after the constraint's mask, but
    with each row's own generator (Gumbel-max: the argmax of the logits plus Gumbel noise is a
    sample), to be run with greedy decoding."""

    def __init__(self, seeds: list[int], sampling: Sampling):
        import torch
        from transformers import TemperatureLogitsWarper, TopPLogitsWarper

        self._torch = torch
        self.warpers = [TemperatureLogitsWarper(sampling.temperature), TopPLogitsWarper(sampling.top_p)]
        self.generators = [torch.Generator().manual_seed(seed) for seed in seeds]

    def __call__(self, input_ids, scores):
        for warp in self.warpers:
            scores = warp(input_ids, scores)
        torch = self._torch
        uniform = torch.stack([torch.rand(scores.shape[1], generator=g) for g in self.generators])
        return scores - torch.log(-torch.log(uniform.clamp_min(1e-20)))


class SharedPrefixGenerator:
    """``generate(conversations, seeds=None)`` constrained by outlines' ``logits_processor``:
    greedy, or sampled with one seed per conversation."""

    def __init__(
        self,
        model,
        tokenizer,
        logits_processor,
        sampling: Sampling,
        share_prefix: bool = True,
        max_prefixes: int = 2,
    ):
        self.model = model
        self.tokenizer = tokenizer
        self.logits_processor = logits_processor
        self.sampling = sampling
        self.share_prefix = share_prefix
        self.max_prefixes = max_prefixes
        self._caches: dict[tuple[int, ...], Any] = {}  # prefix token ids -> its KV cache (batch 1)

    def _split(self, messages: list[dict[str, str]]) -> tuple[tuple[int, ...], list[int]]:
        """Token ids of the turns before the last message, and of the rest of the prompt."""
        apply = self.tokenizer.apply_chat_template
        full = apply(messages, tokenize=False, add_generation_prompt=True)
        ids = self.tokenizer(full)["input_ids"]  # as outlines tokenizes the whole prompt
        if self.share_prefix and len(messages) > 1:
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

    def generate(
        self, conversations: list[list[dict[str, str]]], seeds: list[int] | None = None
    ) -> list[str]:
        split = [self._split(messages) for messages in conversations]
        outputs: list[str | None] = [None] * len(conversations)
        groups: dict[tuple[int, ...], list[int]] = {}
        for i, (prefix, _) in enumerate(split):
            groups.setdefault(prefix, []).append(i)
        for prefix, rows in groups.items():
            sampler = SeededSampling([seeds[i] for i in rows], self.sampling) if seeds is not None else None
            texts = self._generate_group(prefix, [split[i][1] for i in rows], sampler)
            for i, text in zip(rows, texts):
                outputs[i] = text
        return outputs  # type: ignore[return-value]

    def _generate_group(
        self, prefix: tuple[int, ...], suffixes: list[list[int]], sampler: SeededSampling | None
    ) -> list[str]:
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
        processors = [self.logits_processor] + ([sampler] if sampler is not None else [])
        out = self.model.generate(
            input_ids=input_ids,
            attention_mask=torch.tensor(masks),
            logits_processor=LogitsProcessorList(processors),
            pad_token_id=pad,
            max_new_tokens=self.sampling.max_new_tokens,
            do_sample=False,  # a sample is the argmax after SeededSampling's noise
            **extra,
        )
        return self.tokenizer.batch_decode(out[:, input_ids.shape[1] :], skip_special_tokens=True)
