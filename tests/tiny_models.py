"""Tiny random-init models of each family, for tests only: built with the families' public
constructors, seeded, and saved with ``ClipModel.save``.  The saved directory is a model spec
like any other, so it works in-process, in CLI arguments and in child processes alike.
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch

from hubbleclip.models.base import ClipModel


def _seeded(build):
    """Same weights in every process: seed a forked RNG around the random init."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return build()


def tiny_lit() -> ClipModel:
    """The lit family (timm image trunk, BERT text trunk) with 2-layer, 32-wide towers."""
    import timm
    from transformers import AutoModel, AutoTokenizer, BertConfig

    from hubbleclip.models.lit import LitModel, minilm_dir

    text_config = BertConfig(
        vocab_size=30522,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )

    def build():
        image = timm.create_model("test_efficientnet", pretrained=False, num_classes=0)
        text = AutoModel.from_config(text_config, add_pooling_layer=False)
        tokenizer = AutoTokenizer.from_pretrained(minilm_dir())
        arch = "test_efficientnet"
        return LitModel("tiny-lit", image, arch, text, tokenizer, embed_dim=32, image_size=32, max_length=32)

    return _seeded(build)


TINY_OPEN_CLIP_CFG = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 2, "width": 32, "head_width": 16, "patch_size": 8},
    "text_cfg": {"context_length": 32, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 2},
}


def tiny_open_clip() -> ClipModel:
    """open_clip's CLIP with a 2-layer ViT and text transformer."""
    import open_clip

    from hubbleclip.models.openclip import OpenClipModel

    def build():
        net = open_clip.CLIP(**copy.deepcopy(TINY_OPEN_CLIP_CFG))
        return OpenClipModel("tiny-open_clip", net, copy.deepcopy(TINY_OPEN_CLIP_CFG), "")

    return _seeded(build)


def tiny_hf() -> ClipModel:
    """transformers' CLIPModel with 2-layer towers and OpenAI's BPE tokenizer."""
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor

    from hubbleclip.models.hf import HFClipModel, clip_bpe_tokenizer

    config = CLIPConfig(
        text_config=dict(
            vocab_size=49408,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            max_position_embeddings=32,
        ),
        vision_config=dict(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            image_size=32,
            patch_size=8,
        ),
        projection_dim=32,
    )
    net = _seeded(lambda: CLIPModel(config))
    images = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    return HFClipModel(
        "tiny-hf", net, CLIPProcessor(image_processor=images, tokenizer=clip_bpe_tokenizer(32))
    )


BUILDERS = {"tiny-lit": tiny_lit, "tiny-open_clip": tiny_open_clip, "tiny-hf": tiny_hf}


class TinyModels:
    """``tiny["tiny-lit"]`` -> the directory of that model, saved under ``root`` on first use."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def __getitem__(self, name: str) -> str:
        out = self.root / name
        if not out.is_dir():
            BUILDERS[name]().save(out)
        return str(out)
