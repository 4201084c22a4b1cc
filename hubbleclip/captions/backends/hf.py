"""Any `transformers` causal LM (hub id in the local cache, a directory, or a GGUF file) via outlines."""

from __future__ import annotations

from hubbleclip.captions.backends.base import Sampling
from hubbleclip.captions.schema import generation_schema
from hubbleclip.errors import UserError


class TransformersBackend:
    max_batch = 64

    def __init__(
        self,
        model_id: str,
        *,
        name: str,
        gguf_file: str | None = None,
        max_items: int = 3,
        sampling: Sampling = Sampling(),
    ):
        import outlines
        import torch
        from outlines.types import JsonSchema
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
        if not tokenizer.chat_template:
            raise UserError(f"{model_id}: the tokenizer has no chat template; use an instruction-tuned model")
        self._torch = torch
        self._model = outlines.from_transformers(model, tokenizer)
        # one space at most between JSON tokens: free whitespace lets a small model wander
        self._generator = outlines.Generator(
            self._model, JsonSchema(generation_schema(max_items), whitespace_pattern=r"[ ]?")
        )
        self.name = name
        self.sampling = sampling

    def generate(self, conversations: list[list[dict[str, str]]], attempt: int) -> list[str]:
        from outlines.inputs import Chat

        if attempt:
            self._torch.manual_seed(attempt)
        chats = [Chat(messages) for messages in conversations]
        with self._torch.inference_mode():
            if len(chats) == 1:
                return [self._generator(chats[0], **self.sampling.kwargs(attempt))]
            return list(self._generator.batch(chats, **self.sampling.kwargs(attempt)))
