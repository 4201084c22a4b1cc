"""Self-supervised image encoders: a small ResNet (first-layer stride reduced for 64-px inputs)
or a GalaxIDNet-style ViT, plus a projection head.  The backbone output is the embedding;
the head output only feeds the training loss (SimCLR)."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from hubbleclip.errors import UserError
from hubbleclip.transforms import AugmentConfig, build_transform

MEAN = STD = (0.5, 0.5, 0.5)


@dataclass
class EncoderConfig:
    arch: str = field(
        default="resnet", metadata={"help": "backbone: resnet (small-stride ResNet) or vit (GalaxIDNet)"}
    )
    image_size: int = field(
        default=48, metadata={"help": "input size in pixels (ALMA: 48-px crops of 64-px cut-outs)"}
    )
    channels: list[int] = field(
        default_factory=lambda: [32, 64, 128, 256], metadata={"help": "resnet stage widths"}
    )
    layers: list[int] = field(
        default_factory=lambda: [1, 1, 1, 1], metadata={"help": "resnet blocks per stage"}
    )
    stem_stride: int = field(
        default=1, metadata={"help": "resnet first-layer stride (ImageNet ResNets: 2 + max-pool)"}
    )
    patch_size: int = field(default=16, metadata={"help": "vit patch size (GalaxIDNet: 16)"})
    vit_dim: int = field(default=256, metadata={"help": "vit hidden size (GalaxIDNet: 1024)"})
    vit_depth: int = field(default=3, metadata={"help": "vit blocks (GalaxIDNet: 3)"})
    vit_heads: int = field(default=4, metadata={"help": "vit attention heads (GalaxIDNet: 4)"})
    proj_hidden: int = field(default=512, metadata={"help": "projection head hidden width"})
    proj_dim: int = field(default=128, metadata={"help": "projection head output (loss space)"})


def build_backbone(cfg: EncoderConfig) -> tuple[nn.Module, int]:
    """(backbone mapping [B, 3, S, S] -> [B, F], F)."""
    if cfg.arch == "resnet":
        from timm.models.resnet import BasicBlock, ResNet

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
        from timm.models.vision_transformer import VisionTransformer

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
        from safetensors.torch import save_file

        from hubbleclip.io import atomic_directory, atomic_write_json

        with atomic_directory(directory, overwrite=True) as tmp:
            save_file(
                {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()},
                tmp / "model.safetensors",
            )
            atomic_write_json(
                tmp / "simclr.json",
                {"model": dataclasses.asdict(self.cfg), "augment": dataclasses.asdict(self.augment)},
            )
        return Path(directory)

    @classmethod
    def load(cls, directory: str | Path, device: str = "cpu") -> SimCLRModel:
        from safetensors.torch import load_file

        directory = Path(directory)
        if not (directory / "simclr.json").is_file():
            raise FileNotFoundError(f"{directory} has no simclr.json (not a SimCLR export)")
        spec = json.loads((directory / "simclr.json").read_text())
        model = cls(EncoderConfig(**spec["model"]), AugmentConfig(**spec["augment"]))
        model.load_state_dict(load_file(directory / "model.safetensors", device=device))
        return model.to(device).eval()
