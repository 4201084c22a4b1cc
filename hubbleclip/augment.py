"""Which astronomy augmentations a pipeline applies: a config dataclass kept free of torch, so
config files and ``--help`` load fast (the transforms themselves live in hubbleclip.transforms)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class AugmentConfig:
    """Which astronomy augmentations a training pipeline applies (eval uses none of them)."""

    rot90: bool = field(default=True, metadata={"help": "random 90-degree rotations (PAPERCLIP)"})
    flips: bool = field(default=True, metadata={"help": "random horizontal and vertical flips"})
    rotate_degrees: float = field(
        default=0.0, metadata={"help": "arbitrary rotation in [-d, d] degrees (ALMA: 180)"}
    )
    shear_degrees: float = field(default=0.0, metadata={"help": "random shear in [-d, d] degrees (ALMA: 10)"})
    scale_min: float = field(default=1.0, metadata={"help": "random zoom lower bound (ALMA: 0.4)"})
    scale_max: float = field(default=1.0, metadata={"help": "random zoom upper bound (ALMA: 2.0)"})
    crop_scale_min: float = field(
        default=1.0,
        metadata={
            "help": "random resized crop keeps this fraction of the area at least (1.0 = plain resize)"
        },
    )
    pad_to_square: bool = field(
        default=True, metadata={"help": "pad to square before resizing (no cut-off sources)"}
    )
    pad_fill: float = field(default=0.0, metadata={"help": "padding value 0-255 (PAPERCLIP pads white: 255)"})
    center_brightest: int = field(
        default=0, metadata={"help": "crop this many pixels around the brightest pixel first (0 = off)"}
    )
