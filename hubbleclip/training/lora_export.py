"""Check that a LoRA run's export is plain open_clip: ``open_clip.create_model("local-dir:RUN/export")``
(no peft, no hubbleclip) gives the outputs of the adapted model the run trained."""

from __future__ import annotations

from pathlib import Path

import torch

from hubbleclip.models import load_model
from hubbleclip.models.base import ClipModel
from hubbleclip.training.checkpoint import load_trainable
from hubbleclip.training.config import TrainConfig
from hubbleclip.training.freeze import configure_trainable


def adapted_model(cfg: TrainConfig, checkpoint: Path) -> ClipModel:
    """The run's model with its LoRA adapters unmerged, as it was at ``checkpoint``."""
    model = load_model(cfg.model.spec)
    configure_trainable(model, cfg.freeze, train_bias=cfg.loss.kind == "siglip")
    load_trainable(checkpoint, model)
    return model.eval()


@torch.no_grad()
def plain_open_clip_gap(cfg: TrainConfig, checkpoint: Path, export: Path, pixels, texts) -> dict[str, float]:
    """Largest absolute difference between the adapted model at ``checkpoint`` and plain open_clip
    loading ``export``, on image and on text features."""
    import open_clip

    adapted = adapted_model(cfg, checkpoint)
    plain = open_clip.create_model(f"local-dir:{export}").eval()
    tokens = adapted.tokenize(texts)["input_ids"]
    return {
        "image_max_abs_diff": float(
            (plain.encode_image(pixels) - adapted.net.encode_image(pixels)).abs().max()
        ),
        "text_max_abs_diff": float((plain.encode_text(tokens) - adapted.net.encode_text(tokens)).abs().max()),
        "lora_modules": sum("lora_A" in n for n, _ in adapted.named_parameters()),
    }
