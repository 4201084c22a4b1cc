"""Any `transformers` causal LM (hub id in the local cache, a directory, or a GGUF file) via outlines."""

from __future__ import annotations

import functools
from typing import Any

from hubbleclip.captions.backends.base import Sampling
from hubbleclip.captions.backends.prefix import SharedPrefixGenerator
from hubbleclip.errors import UserError


@functools.lru_cache(maxsize=1)
def _load_pretrained(model_id: str, gguf_file: str | None):
    """Tokenizer and model, loaded once per process: a second backend of the same model (the judge
    after the captions, another schema) reuses the weights instead of loading them again."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    kwargs = {"gguf_file": gguf_file} if gguf_file else {}
    # local_files_only: nothing is downloaded at run time, whatever HF_HUB_OFFLINE says
    try:
        tokenizer = AutoTokenizer.from_pretrained(model_id, local_files_only=True, **kwargs)
        model = AutoModelForCausalLM.from_pretrained(
            model_id, local_files_only=True, dtype=torch.float32, **kwargs
        )
    except OSError as exc:
        raise UserError(
            f"--model {model_id}: not a local model directory or a model in the Hugging Face "
            f"cache ({type(exc).__name__}); download it first (e.g. `hf download {model_id}`) "
            "or pass its directory"
        ) from None
    model.eval()
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer, model


class TransformersBackend:
    max_batch = 64

    def __init__(
        self,
        model_id: str,
        *,
        name: str,
        schema: dict[str, Any],
        gguf_file: str | None = None,
        sampling: Sampling = Sampling(),
        prefix_cache: bool = True,
    ):
        import outlines
        import torch
        from outlines.types import JsonSchema

        tokenizer, model = _load_pretrained(model_id, gguf_file)
        if not tokenizer.chat_template:
            raise UserError(f"{model_id}: the tokenizer has no chat template; use an instruction-tuned model")
        self._torch = torch
        self._model = outlines.from_transformers(model, tokenizer)
        # one space at most between JSON tokens: free whitespace lets a small model wander
        self._generator = outlines.Generator(self._model, JsonSchema(schema, whitespace_pattern=r"[ ]?"))
        # the rules and worked examples every prompt shares are computed once (same outputs as
        # outlines' own batch generation, which prefills every prompt whole)
        self._decoder = SharedPrefixGenerator(
            model, tokenizer, self._generator.logits_processor, sampling, share_prefix=prefix_cache
        )
        self.name = name
        self.sampling = sampling

    def generate(self, conversations: list[list[dict[str, str]]], attempt: int) -> list[str]:
        seeds = [self.sampling.seed(attempt, messages) for messages in conversations] if attempt else None
        with self._torch.inference_mode():
            return self._decoder.generate(conversations, seeds)
