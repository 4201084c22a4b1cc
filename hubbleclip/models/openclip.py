"""open_clip models: ``open_clip:ARCH@TAG`` (pretrained tag), ``open_clip:ARCH@/path/ckpt`` (local
file) and ``open_clip:ARCH`` (random init).

Exports are written in open_clip's own ``local-dir`` layout, so
``open_clip.create_model_and_transforms("local-dir:RUN/export")`` loads them too.
"""

from __future__ import annotations

import json
from pathlib import Path

from torch import nn

from hubbleclip.errors import UserError
from hubbleclip.io import atomic_write_json
from hubbleclip.models.base import ClipModel, Tower

CONFIG_FILE, WEIGHTS_FILE = "open_clip_config.json", "open_clip_model.safetensors"


class OpenClipModel(ClipModel):
    family = "open_clip"

    def __init__(self, spec: str, net: nn.Module, model_cfg: dict, arch: str):
        import open_clip

        pre = open_clip.get_model_preprocess_cfg(net)
        size = pre.get("size", model_cfg["vision_cfg"].get("image_size", 224))
        super().__init__(
            spec,
            model_cfg["embed_dim"],
            size if isinstance(size, int) else size[0],
            pre.get("mean", open_clip.OPENAI_DATASET_MEAN),
            pre.get("std", open_clip.OPENAI_DATASET_STD),
        )
        self.net, self.model_cfg, self.arch = net, model_cfg, arch
        ctx = model_cfg["text_cfg"].get("context_length", 77)
        self.tokenizer = open_clip.get_tokenizer(arch, context_length=ctx)

    @property
    def logit_scale(self):
        return self.net.logit_scale

    def image_features(self, pixels):
        return self.net.encode_image(pixels)

    def text_features(self, tokens):
        return self.net.encode_text(tokens["input_ids"])

    def tokenize(self, texts):
        return {"input_ids": self.tokenizer(list(texts))}

    def _builtin_towers(self) -> bool:
        return hasattr(self.net.visual, "transformer") and hasattr(self.net, "transformer")

    def tower_weights(self, tower: str):
        # towers open_clip builds from timm or Hugging Face are not mapped: digest the whole network
        return super().tower_weights(tower) if self._builtin_towers() else [self.net]

    def towers(self):
        net = self.net
        if not self._builtin_towers():
            raise UserError(
                f"{self.spec}: freezing/LoRA needs a ViT image tower and the built-in text "
                "transformer (timm or Hugging Face towers are not mapped)"
            )
        text_trunk = [
            net.token_embedding,
            net.positional_embedding,
            net.transformer,
            net.ln_final,
            net.text_projection,
        ]
        # LoRA on each block's nn.MultiheadAttention (peft adapts its in_proj and out_proj together)
        # and on both MLP layers
        return {
            "image": Tower(
                [net.visual],
                list(net.visual.transformer.resblocks),
                [net.visual.ln_post, net.visual.proj],
                r"net\.visual\.transformer\.resblocks\.\d+\.(attn|mlp\.c_fc|mlp\.c_proj)",
            ),
            "text": Tower(
                text_trunk,
                list(net.transformer.resblocks),
                [net.ln_final, net.text_projection],
                r"net\.transformer\.resblocks\.\d+\.(attn|mlp\.c_fc|mlp\.c_proj)",
            ),
        }

    def _save_native(self, out: Path) -> dict:
        from safetensors.torch import save_file

        state = {k: v.detach().cpu().contiguous() for k, v in self.net.state_dict().items()}
        save_file(state, str(out / WEIGHTS_FILE))
        preprocess = {"size": self.image_size, "mean": list(self.image_mean), "std": list(self.image_std)}
        atomic_write_json(out / CONFIG_FILE, {"model_cfg": self.model_cfg, "preprocess_cfg": preprocess})
        return {"arch": self.arch}

    @classmethod
    def _load_native(cls, path: Path, meta: dict) -> OpenClipModel:
        import open_clip

        net = open_clip.create_model(f"local-dir:{path}")
        model_cfg = json.loads((path / CONFIG_FILE).read_text())["model_cfg"]
        return cls(meta["spec"], net, model_cfg, meta.get("arch", ""))


def build_open_clip(spec: str) -> OpenClipModel:
    import open_clip

    arch, _, tag = spec[len("open_clip:") :].partition("@")
    model_cfg = open_clip.get_model_config(arch)
    if model_cfg is None:
        raise UserError(
            f"model spec {spec!r}: unknown open_clip architecture {arch!r}; "
            f"some known ones: {', '.join(open_clip.list_models()[:12])}, ..."
        )
    if tag and not Path(tag).is_file() and tag not in open_clip.list_pretrained_tags_by_model(arch):
        raise UserError(
            f"model spec {spec!r}: {tag!r} is neither a checkpoint file nor an open_clip tag of {arch} "
            f"(tags: {', '.join(open_clip.list_pretrained_tags_by_model(arch)) or 'none'})"
        )
    try:
        net = open_clip.create_model(arch, pretrained=tag or None)
    except RuntimeError as exc:
        raise UserError(
            f"model spec {spec!r}: open_clip could not get the {tag!r} weights ({exc}). "
            "Without internet, download the checkpoint elsewhere "
            "(e.g. open_clip_pytorch_model.bin of the matching Hugging Face repo) and pass "
            f"it as a file: --model.spec open_clip:{arch}@/path/to/checkpoint.bin"
        ) from exc
    return OpenClipModel(spec, net, model_cfg, arch)
