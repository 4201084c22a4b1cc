"""Self-supervised image encoders: a small ResNet (first-layer stride reduced for 64-px inputs)
or a GalaxIDNet-style ViT, plus a projection head.  The backbone output is the embedding;
the head output only feeds the training loss (SimCLR)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from timm.models.resnet import BasicBlock, ResNet
from timm.models.vision_transformer import VisionTransformer
from torch import nn

from hubbleclip.errors import UserError
from hubbleclip.io import atomic_directory, atomic_write_json
from hubbleclip.similarity.config import EncoderConfig
from hubbleclip.transforms import AugmentConfig, build_transform

MEAN = STD = (0.5, 0.5, 0.5)
SIMCLR_META = "simclr.json"


def build_backbone(cfg: EncoderConfig) -> tuple[nn.Module, int]:
    """(backbone mapping [B, 3, S, S] -> [B, F], F)."""
    if cfg.arch == "resnet":
        if len(cfg.channels) != len(cfg.layers):
            raise UserError(
                f"model.channels {cfg.channels} and model.layers {cfg.layers} must have the same length"
            )
        # the deep 3x3 stem ends at channels[0]; small inputs keep their detail with a reduced
        # first-layer stride and no max-pool
        net = ResNet(
            BasicBlock,
            tuple(cfg.layers),
            channels=tuple(cfg.channels),
            num_classes=0,
            stem_type="deep",
            stem_width=max(1, cfg.channels[0] // 2),
        )
        net.conv1[0].stride = (cfg.stem_stride, cfg.stem_stride)
        net.maxpool = nn.Identity()
        return net, net.num_features
    if cfg.arch == "vit":
        if cfg.image_size % cfg.patch_size:
            raise UserError(
                f"model.image_size {cfg.image_size} must be a multiple of model.patch_size {cfg.patch_size}"
            )
        net = VisionTransformer(
            img_size=cfg.image_size,
            patch_size=cfg.patch_size,
            embed_dim=cfg.vit_dim,
            depth=cfg.vit_depth,
            num_heads=cfg.vit_heads,
            num_classes=0,
        )
        return net, cfg.vit_dim
    raise UserError(f"model.arch: expected resnet or vit, got {cfg.arch!r}")


class SimCLRModel(nn.Module):
    def __init__(self, cfg: EncoderConfig, augment: AugmentConfig | None = None):
        super().__init__()
        self.cfg = cfg
        self.augment = augment or AugmentConfig()
        self.backbone, feat = build_backbone(cfg)
        self.head = nn.Sequential(
            nn.Linear(feat, cfg.proj_hidden), nn.ReLU(inplace=True), nn.Linear(cfg.proj_hidden, cfg.proj_dim)
        )
        self.embed_dim = feat

    def image_transform(self, train: bool = False, augment: AugmentConfig | None = None):
        """PIL -> tensor; another ``augment`` keeps this model's brightest-pixel crop (its input scale)."""
        if augment is not None:
            augment = dataclasses.replace(augment, center_brightest=self.augment.center_brightest)
        return build_transform(augment or self.augment, self.cfg.image_size, MEAN, STD, train=train)

    def encode_image(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.backbone(pixels)

    def forward(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.backbone(pixels)
        return h, self.head(h)

    def save(self, directory: str | Path) -> Path:
        with atomic_directory(directory, overwrite=True) as tmp:
            save_file(
                {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()},
                tmp / "model.safetensors",
            )
            atomic_write_json(
                tmp / SIMCLR_META,
                {"model": dataclasses.asdict(self.cfg), "augment": dataclasses.asdict(self.augment)},
            )
        return Path(directory)

    @classmethod
    def load(cls, directory: str | Path, device: str = "cpu") -> SimCLRModel:
        directory = Path(directory)
        if not (directory / SIMCLR_META).is_file():
            raise FileNotFoundError(f"{directory} has no {SIMCLR_META} (not a SimCLR export)")
        spec = json.loads((directory / SIMCLR_META).read_text())
        model = cls(EncoderConfig(**spec["model"]), AugmentConfig(**spec["augment"]))
        model.load_state_dict(load_file(directory / "model.safetensors", device=device))
        return model.to(device).eval()
