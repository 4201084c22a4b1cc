"""Augmentations for astronomical images, as torchvision-style callables.

The sky has no "up": random 90° rotations and flips are exact symmetries (PAPERCLIP); the ALMA
similarity study adds any-angle rotation, 10° shear and 0.4-2.0 scale.  ``CenterOnBrightest``
and ``PadToSquare`` put the source in the middle without cutting it off.

Every callable takes a PIL image or a ``[..., H, W]`` tensor and returns the same kind; random
ones draw from torch's global generator, so ``torch.manual_seed`` makes them repeatable.
``build_transform(AugmentConfig(...), ...)`` assembles the full train or eval pipeline.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F

from hubbleclip.augment import AugmentConfig
from hubbleclip.errors import UserError

__all__ = ["AugmentConfig", "CenterOnBrightest", "PadToSquare", "RandomRot90", "ToRGB", "build_transform"]


class RandomRot90:
    """Rotate by k·90° with k drawn uniformly from {0, 1, 2, 3} (lossless)."""

    def __call__(self, img):
        k = int(torch.randint(4, ()).item())
        if isinstance(img, Image.Image):
            return (
                img
                if k == 0
                else img.transpose(
                    (None, Image.Transpose.ROTATE_90, Image.Transpose.ROTATE_180, Image.Transpose.ROTATE_270)[
                        k
                    ]
                )
            )
        return torch.rot90(img, k, dims=(-2, -1))

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _size(img) -> tuple[int, int]:
    """(height, width) of a PIL image or tensor."""
    h, w = F.get_size(img)
    return int(h), int(w)


class PadToSquare:
    """Pad the shorter side symmetrically so the image becomes square (PAPERCLIP pads white)."""

    def __init__(self, fill: float = 0):
        self.fill = fill

    def __call__(self, img):
        h, w = _size(img)
        side = max(h, w)
        left, top = (side - w) // 2, (side - h) // 2
        if side == h == w:
            return img
        return F.pad(img, [left, top, side - w - left, side - h - top], fill=self.fill)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(fill={self.fill})"


class CenterOnBrightest:
    """Crop a ``size``×``size`` window centred on the brightest pixel (padding past the edges).

    The brightness map is box-smoothed over ``smooth`` pixels first so a single hot pixel does not
    win over an extended source (the ALMA study centres cut-outs on the peak).
    """

    def __init__(self, size: int, smooth: int = 3, fill: float = 0):
        self.size, self.smooth, self.fill = int(size), int(smooth), fill

    def __call__(self, img):
        if isinstance(img, Image.Image):
            lum = np.asarray(img.convert("L"), dtype=np.float32)
        else:
            lum = img.float().reshape(-1, *img.shape[-2:]).mean(0).numpy()
        if self.smooth > 1:
            from scipy.ndimage import uniform_filter

            lum = uniform_filter(lum, size=self.smooth, mode="nearest")
        cy, cx = np.unravel_index(int(np.argmax(lum)), lum.shape)
        top, left = int(cy) - self.size // 2, int(cx) - self.size // 2
        h, w = lum.shape
        # pad first so the crop never leaves the image (F.crop's own padding is always black)
        pad = [max(0, -left), max(0, -top), max(0, left + self.size - w), max(0, top + self.size - h)]
        if any(pad):
            img = F.pad(img, pad, fill=self.fill)
            top, left = top + pad[1], left + pad[0]
        return F.crop(img, top, left, self.size, self.size)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(size={self.size}, smooth={self.smooth}, fill={self.fill})"


class ToRGB:
    """Convert PIL images to 3-channel RGB (FIRST radio images are grey, some PNGs have alpha)."""

    def __call__(self, img):
        if isinstance(img, Image.Image):
            return img if img.mode == "RGB" else img.convert("RGB")
        return img.expand(*img.shape[:-3], 3, *img.shape[-2:]) if img.shape[-3] == 1 else img[..., :3, :, :]

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def build_transform(aug: AugmentConfig | None, image_size: int, mean, std, train: bool) -> v2.Compose:
    """PIL image -> normalised float tensor [3, image_size, image_size].

    Eval: RGB, optional brightest-pixel crop, pad to square, resize.  Train adds the affine
    (rotation/shear/scale) before, and 90° rotations and flips after, the (random resized) crop.
    """
    aug = aug or AugmentConfig()
    if aug.scale_min <= 0 or aug.scale_max < aug.scale_min:
        raise UserError(
            f"augment.scale_min/scale_max: expected 0 < min <= max, got {aug.scale_min}, {aug.scale_max}"
        )
    if not 0 < aug.crop_scale_min <= 1:
        raise UserError(f"augment.crop_scale_min: expected a value in (0, 1], got {aug.crop_scale_min}")
    steps: list = [ToRGB()]
    if aug.center_brightest:
        steps.append(CenterOnBrightest(aug.center_brightest, fill=aug.pad_fill))
    if aug.pad_to_square:
        steps.append(PadToSquare(aug.pad_fill))
    if train and (aug.rotate_degrees or aug.shear_degrees or (aug.scale_min, aug.scale_max) != (1.0, 1.0)):
        steps.append(
            v2.RandomAffine(
                degrees=aug.rotate_degrees,
                shear=aug.shear_degrees or None,
                scale=(aug.scale_min, aug.scale_max),
                fill=aug.pad_fill,
                interpolation=v2.InterpolationMode.BILINEAR,
            )
        )
    if train and aug.crop_scale_min < 1:
        steps.append(
            v2.RandomResizedCrop(
                image_size, scale=(aug.crop_scale_min, 1.0), ratio=(1.0, 1.0), antialias=True
            )
        )
    else:
        steps += [v2.Resize(image_size, antialias=True), v2.CenterCrop(image_size)]
    # after resizing: lossless there, and cheaper on the small image
    if train and aug.rot90:
        steps.append(RandomRot90())
    if train and aug.flips:
        steps += [v2.RandomHorizontalFlip(), v2.RandomVerticalFlip()]
    steps += [v2.ToImage(), v2.ToDtype(torch.float32, scale=True), v2.Normalize(list(mean), list(std))]
    return v2.Compose(steps)
