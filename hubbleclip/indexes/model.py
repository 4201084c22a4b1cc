"""The query encoder of an index: a local model directory is copied into ``INDEX/model``; a named
spec (``lit-mini``, ``open_clip:...``, ``hf:...``) that every install builds is kept as a name.
Either way the manifest records a digest of the weights, and whatever model answers the queries
later (the packed one, the named one or a ``--model`` override) must have the same digest."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from torch import nn

from hubbleclip.errors import UserError
from hubbleclip.models.feature_cache import tensors_digest
from hubbleclip.models.loader import EXPORT_DIR

MODEL_DIR = "model"
PREFIXES = ("simclr:", "features:")  # similarity encoder specs wrap a model spec


def weights_digest(module: nn.Module) -> str:
    """The digest of a model's weights (names, shapes, dtypes, values of its state dict)."""
    return tensors_digest(module.state_dict().items())


def split_spec(spec: str) -> tuple[str, str]:
    """``features:RUN`` -> (``features:``, ``RUN``); a plain spec has no prefix."""
    for prefix in PREFIXES:
        if spec.startswith(prefix):
            return prefix, spec.removeprefix(prefix)
    return "", spec


class ModelMismatchError(UserError):
    """The model offered for an index is not the one it was built with, or is missing."""


@dataclass(frozen=True)
class ModelRef:
    spec: str  # packed: relative to the index (``model``, ``features:model``); else a named spec
    name: str  # what to call it (the built-from directory's name, or the named spec)
    digest: str  # weights_digest of the model the index was built with
    packed: bool

    def to_dict(self) -> dict:
        return {"spec": self.spec, "name": self.name, "digest": self.digest, "packed": self.packed}

    @classmethod
    def from_dict(cls, d: dict) -> ModelRef:
        return cls(str(d["spec"]), str(d["name"]), str(d["digest"]), bool(d["packed"]))

    def resolve(self, root: Path) -> str:
        """The spec to load: a packed model's directory inside ``root`` (the index)."""
        if not self.packed:
            return self.spec
        prefix, base = split_spec(self.spec)
        return prefix + str(root / base)

    def missing(self, root: Path) -> str | None:
        """One line when the packed model directory is not there (None: present or named)."""
        if not self.packed:
            return None
        where = root / split_spec(self.spec)[1]
        if where.is_dir():
            return None
        return (
            f"{where}: missing (the query encoder {self.name}, weights digest {self.digest[:12]}…, was "
            "copied there at build time); copy the whole index directory, or pass --model with the same "
            "model"
        )

    def check(self, module: nn.Module, used: str, root: Path) -> None:
        """Raise ModelMismatchError unless ``module`` (loaded from spec ``used``) is the index's model."""
        digest = weights_digest(module)
        if digest != self.digest:
            raise ModelMismatchError(
                f"model {used}: weights digest {digest[:12]}… is not the one index {root} was built with "
                f"({self.name}, {self.digest[:12]}…); pass --model with that model, or rebuild the index "
                "with this one"
            )


def pack_model(spec: str, module: nn.Module, dest: Path) -> ModelRef:
    """Copy a local model directory (a training run means its ``export/``) into ``dest/model``, or
    keep a named spec as it is; both with the digest of ``module``, the loaded model."""
    prefix, base = split_spec(spec)
    src = Path(base)
    digest = weights_digest(module)
    if not src.is_dir():
        return ModelRef(spec, spec, digest, packed=False)
    if (src / EXPORT_DIR).is_dir():
        src = src / EXPORT_DIR
    shutil.copytree(src, dest / MODEL_DIR)
    name = src.resolve().parent.name if src.name == EXPORT_DIR else src.resolve().name
    return ModelRef(prefix + MODEL_DIR, prefix + name, digest, packed=True)


def load_checked(ref: ModelRef, root: Path, load: Callable[[str], nn.Module], override: str | None = None):
    """Load the index's model (or ``override``) with ``load(spec)`` (an encoder: its ``.model`` is
    the module) and check its digest; returns (spec used, the encoder)."""
    if override:
        used = override
    else:
        if problem := ref.missing(root):
            raise ModelMismatchError(problem)
        used = ref.resolve(root)
    loaded = load(used)
    ref.check(loaded.model, used, root)
    return used, loaded
