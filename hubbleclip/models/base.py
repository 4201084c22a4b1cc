"""The one interface every model family implements: :class:`ClipModel`.

A model is two towers (image, text) whose *features* go through *heads* into one shared space.
Keeping features and heads apart lets the trainer cache a locked tower's features and still
train the head.  ``towers()`` tells the trainer what to freeze, which blocks to unlock and where
LoRA goes, so freezing works the same for every family.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import torch
from torch import nn

from hubbleclip.errors import UserError
from hubbleclip.io import atomic_directory, atomic_write_json
from hubbleclip.transforms import AugmentConfig, build_transform

META_FILE = "hubbleclip.json"
EXTRA_FILE = "hubbleclip_extra.safetensors"
FAMILIES: dict[str, type[ClipModel]] = {}


@dataclass
class Tower:
    """What the trainer needs to know about one tower."""

    trunk: list[nn.Module | nn.Parameter]  # frozen when the tower is locked
    blocks: list[nn.Module]  # in order; "unlock N" unfreezes the last N
    # after the last block (final norm, pooling projection): unlocked with the last blocks
    final_layers: list[nn.Module | nn.Parameter] = field(default_factory=list)
    lora_pattern: str = ""  # regex over module names (relative to the ClipModel) that LoRA adapts


def tower_parameters(items) -> list[nn.Parameter]:
    """Parameters of a list of modules and bare parameters, without duplicates."""
    out, seen = [], set()
    for item in items:
        for p in [item] if isinstance(item, nn.Parameter) else item.parameters():
            if id(p) not in seen:
                seen.add(id(p))
                out.append(p)
    return out


class ClipModel(nn.Module):
    """Image and text encoders into one embedding space (see the module docstring).

    Subclasses set ``family`` and implement the feature/head/tokenize/towers/save hooks.
    """

    family: ClassVar[str] = ""

    def __init__(self, spec: str, embed_dim: int, image_size: int, mean, std):
        super().__init__()
        self.spec, self.embed_dim, self.image_size = spec, int(embed_dim), int(image_size)
        self.image_mean, self.image_std = tuple(float(m) for m in mean), tuple(float(s) for s in std)
        # SigLIP's learnable bias (init as in the paper); unused by the softmax loss
        self.logit_bias = nn.Parameter(torch.tensor(-10.0))

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.family:
            FAMILIES[cls.family] = cls

    # --- hooks each family implements -------------------------------------------------------
    @property
    def logit_scale(self) -> nn.Parameter:
        raise NotImplementedError

    def image_features(self, pixels: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def text_features(self, tokens: dict[str, torch.Tensor]) -> torch.Tensor:
        raise NotImplementedError

    def image_head(self, features: torch.Tensor) -> torch.Tensor:
        return features

    def text_head(self, features: torch.Tensor) -> torch.Tensor:
        return features

    def tokenize(self, texts: list[str]) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def towers(self) -> dict[str, Tower]:
        raise NotImplementedError

    def tower_weights(self, tower: str) -> list[nn.Module | nn.Parameter]:
        """What the features of ``tower`` depend on (the feature cache digests them)."""
        return self.towers()[tower].trunk

    def _save_native(self, out: Path) -> dict:
        """Write the family's own files into ``out``; return extra metadata for ``_load_native``."""
        raise NotImplementedError

    @classmethod
    def _load_native(cls, path: Path, meta: dict) -> ClipModel:
        raise NotImplementedError

    # --- shared behaviour -------------------------------------------------------------------
    def image_transform(self, train: bool = False, augment: AugmentConfig | None = None):
        """PIL image -> normalised tensor for this model (``train`` adds the augmentations)."""
        return build_transform(augment, self.image_size, self.image_mean, self.image_std, train)

    def encode_image(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.image_head(self.image_features(pixels))

    def encode_text(self, tokens: dict[str, torch.Tensor] | torch.Tensor) -> torch.Tensor:
        if isinstance(tokens, torch.Tensor):
            tokens = {"input_ids": tokens}
        return self.text_head(self.text_features(tokens))

    def forward(self, images=None, tokens=None, image_feats=None, text_feats=None):
        """L2-normalised (image, text) embeddings, from inputs or from cached tower features."""
        img = self.image_head(self.image_features(images) if image_feats is None else image_feats)
        txt = self.text_head(self.text_features(tokens) if text_feats is None else text_feats)
        return nn.functional.normalize(img, dim=-1), nn.functional.normalize(txt, dim=-1)

    @property
    def device(self) -> torch.device:
        return self.logit_bias.device

    def save(self, path: str | Path, also: Callable[[Path], object] | None = None) -> Path:
        """Write a directory that :meth:`load` (and ``load_model(path)``) reads back; ``also(tmp)``
        adds files (e.g. a model card) before the directory becomes visible, all at once."""
        from peft.tuners.tuners_utils import BaseTunerLayer
        from safetensors.torch import save_file

        if any(isinstance(m, BaseTunerLayer) for m in self.modules()):
            raise ValueError(
                "the model still has LoRA adapters: merge them (hubbleclip.training.freeze.merge_lora) "
                "before saving"
            )
        with atomic_directory(path, overwrite=True) as tmp:
            native = self._save_native(tmp)
            save_file({"logit_bias": self.logit_bias.detach().cpu().reshape(1)}, str(tmp / EXTRA_FILE))
            atomic_write_json(
                tmp / META_FILE,
                {
                    "family": self.family,
                    "spec": self.spec,
                    "embed_dim": self.embed_dim,
                    "image_size": self.image_size,
                    "image_mean": self.image_mean,
                    "image_std": self.image_std,
                    **native,
                },
            )
            if also is not None:
                also(tmp)
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> ClipModel:
        from safetensors.torch import load_file

        path = Path(path)
        meta_path = path / META_FILE
        if not meta_path.is_file():
            raise FileNotFoundError(
                f"{path} is not a saved hubbleclip model (no {META_FILE}; "
                "write one with ClipModel.save or `hubbleclip train`)"
            )
        meta = json.loads(meta_path.read_text())
        family = meta.get("family")
        if family not in FAMILIES:
            raise UserError(
                f"{meta_path}: unknown model family {family!r}; expected one of {sorted(FAMILIES)}"
            )
        model = FAMILIES[family]._load_native(path, meta)
        with torch.no_grad():
            model.logit_bias.copy_(load_file(str(path / EXTRA_FILE))["logit_bias"].reshape(()))
        return model


def padded_tokens(tokenizer, texts, max_length: int) -> dict[str, torch.Tensor]:
    """``input_ids`` and ``attention_mask`` of a Hugging Face tokenizer, padded to the longest text."""
    enc = tokenizer(list(texts), padding=True, truncation=True, max_length=max_length, return_tensors="pt")
    return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}


def init_logit_scale() -> nn.Parameter:
    """CLIP's initial temperature, 1/0.07, stored as a log."""
    return nn.Parameter(torch.tensor(math.log(1 / 0.07)))
