"""llama-cpp-python backend (optional extra ``hubbleclip[llamacpp]``; builds from source)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from hubbleclip.captions.backends.base import Sampling
from hubbleclip.errors import UserError


class LlamaCppBackend:
    max_batch = 1  # llama-cpp-python serves one sequence per call

    def __init__(
        self,
        path: Path,
        *,
        name: str,
        schema: dict[str, Any],
        sampling: Sampling = Sampling(),
        n_ctx: int = 4096,
    ):
        if importlib.util.find_spec("llama_cpp") is None:
            raise UserError(
                "the llamacpp backend needs llama-cpp-python: pip install 'hubbleclip[llamacpp]' "
                "(a ~6 minute source build), or use the default transformers backend"
            )
        # without numba outlines' llama.cpp constraint silently stops constraining: refuse instead
        if importlib.util.find_spec("numba") is None:
            raise UserError(
                "the llamacpp backend needs numba for outlines to constrain its output "
                "(pip install numba); refusing to run unconstrained"
            )
        import outlines
        from llama_cpp import Llama
        from outlines.types import JsonSchema

        llm = Llama(model_path=str(path), n_ctx=n_ctx, verbose=False)
        self._model = outlines.from_llamacpp(llm)  # chat mode: the GGUF's own chat template
        self._generator = outlines.Generator(self._model, JsonSchema(schema, whitespace_pattern=r"[ ]?"))
        self.name = name
        self.sampling = sampling

    def generate(self, conversations: list[list[dict[str, str]]], attempt: int) -> list[str]:
        from outlines.inputs import Chat

        kwargs = {"max_tokens": self.sampling.max_new_tokens}
        kwargs["temperature"] = self.sampling.temperature if attempt else 0.0
        return [
            self._generator(Chat(messages), seed=self.sampling.seed(attempt, messages), **kwargs)
            for messages in conversations
        ]
