"""Hugging Face CLIP models: ``hf:openai/clip-vit-base-patch32`` (from the local HF cache when
offline), ``hf:/path/to/dir`` (a ``save_pretrained`` directory).

Exports are ``CLIPModel.save_pretrained`` + ``CLIPProcessor.save_pretrained`` directories, so
``transformers.CLIPModel.from_pretrained("RUN/export")`` loads them too.
"""

from __future__ import annotations

import gzip
from pathlib import Path

from torch import nn

from hubbleclip.errors import UserError
from hubbleclip.models.base import ClipModel, Tower, padded_tokens


class HFClipModel(ClipModel):
    family = "hf"

    def __init__(self, spec: str, net: nn.Module, processor):
        ip = processor.image_processor
        crop = (
            ip.crop_size["height"] if getattr(ip, "crop_size", None) else net.config.vision_config.image_size
        )
        super().__init__(spec, net.config.projection_dim, crop, ip.image_mean, ip.image_std)
        self.net, self.processor = net, processor
        self.max_length = net.config.text_config.max_position_embeddings

    @property
    def logit_scale(self):
        return self.net.logit_scale

    def image_features(self, pixels):
        return self.net.vision_model(pixel_values=pixels).pooler_output

    def image_head(self, features):
        return self.net.visual_projection(features)

    def text_features(self, tokens):
        return self.net.text_model(
            input_ids=tokens["input_ids"], attention_mask=tokens.get("attention_mask")
        ).pooler_output

    def text_head(self, features):
        return self.net.text_projection(features)

    def tokenize(self, texts):
        return padded_tokens(self.processor.tokenizer, texts, self.max_length)

    def towers(self):
        vis, txt = self.net.vision_model, self.net.text_model
        return {
            "image": Tower(
                [vis],
                list(vis.encoder.layers),
                [vis.post_layernorm],
                r"net\.vision_model\.encoder\.layers\.\d+\.self_attn\.(q_proj|v_proj)",
            ),
            "text": Tower(
                [txt],
                list(txt.encoder.layers),
                [txt.final_layer_norm],
                r"net\.text_model\.encoder\.layers\.\d+\.self_attn\.(q_proj|v_proj)",
            ),
        }

    def _save_native(self, out: Path) -> dict:
        self.net.save_pretrained(out)
        self.processor.save_pretrained(out)
        return {}

    @classmethod
    def _load_native(cls, path: Path, meta: dict) -> HFClipModel:
        from transformers import CLIPModel, CLIPProcessor

        return cls(meta["spec"], CLIPModel.from_pretrained(path), CLIPProcessor.from_pretrained(path))


def clip_bpe_tokenizer(max_length: int):
    """OpenAI's CLIP BPE tokenizer as a transformers ``CLIPTokenizer``, from the vocabulary that ships
    in the open_clip wheel (the same merges as the Hub's ``openai/clip-*`` tokenizers)."""
    import open_clip.tokenizer as oct
    from transformers import CLIPTokenizer

    with gzip.open(oct.default_bpe(), "rt", encoding="utf-8") as fh:
        merges = [tuple(line.split()) for line in fh.read().split("\n")[1 : 49152 - 256 - 2 + 1]]
    byte_chars = list(oct.bytes_to_unicode().values())
    vocab = byte_chars + [c + "</w>" for c in byte_chars] + ["".join(m) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    return CLIPTokenizer(
        vocab={tok: i for i, tok in enumerate(vocab)}, merges=merges, model_max_length=max_length
    )


def build_hf(spec: str) -> HFClipModel:
    from transformers import CLIPModel, CLIPProcessor

    source = spec[len("hf:") :]
    try:
        net = CLIPModel.from_pretrained(source)
        processor = CLIPProcessor.from_pretrained(source)
    except OSError as exc:
        raise UserError(
            f"model spec {spec!r}: cannot load a CLIP model from {source!r} "
            f"({str(exc).splitlines()[0]}). Offline, "
            "pass a local directory written by CLIPModel/CLIPProcessor.save_pretrained: hf:/path/to/dir"
        ) from exc
    return HFClipModel(spec, net, processor)
