import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.transforms.v2 import functional as F

from hubbleclip.transforms import (
    AugmentConfig,
    CenterOnBrightest,
    PadToSquare,
    RandomRot90,
    ToRGB,
    build_transform,
)

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def m31() -> Image.Image:
    return Image.open(DATA / "stellarium/nebulae/default/m31.png").convert("RGB")


@pytest.fixture(scope="module")
def first_image() -> Image.Image:
    with zipfile.ZipFile(DATA / "first/galaxy_data.zip") as zf:
        name = next(n for n in zf.namelist() if n.endswith(".png"))
        return Image.open(io.BytesIO(zf.read(name))).copy()


def test_rot90_tensor_gives_all_four_exact_rotations(m31):
    x = F.to_image(m31)
    rotations = [torch.rot90(x, k, dims=(-2, -1)) for k in range(4)]
    seen = set()
    torch.manual_seed(0)
    for _ in range(40):
        y = RandomRot90()(x)
        matches = [k for k, r in enumerate(rotations) if torch.equal(r, y)]
        assert len(matches) == 1
        seen.add(matches[0])
    assert seen == {0, 1, 2, 3}


def test_rot90_pil_matches_tensor_for_same_seed(m31):
    wide = m31.crop((0, 0, 96, 60))  # non-square, so a wrong rotation changes the shape
    for seed in range(6):
        torch.manual_seed(seed)
        pil = RandomRot90()(wide)
        torch.manual_seed(seed)
        ten = RandomRot90()(F.to_image(wide))
        assert torch.equal(F.to_image(pil), ten)


def test_pad_to_square_centres_content(m31):
    wide = m31.crop((0, 10, 96, 50))  # 96 x 40
    out = PadToSquare(fill=255)(wide)
    assert out.size == (96, 96)
    arr, src = np.asarray(out), np.asarray(wide)
    assert np.array_equal(arr[28:68], src)
    assert (arr[:28] == 255).all() and (arr[68:] == 255).all()
    assert PadToSquare()(m31) is m31


def test_center_on_brightest_finds_the_peak_and_pads_at_edges(m31):
    arr = np.asarray(m31).copy() // 4
    arr[21:24, 71:74] = 200  # a bright source peaking at (22, 72)
    arr[22, 72] = 255
    img = Image.fromarray(arr)
    crop = np.asarray(CenterOnBrightest(16)(img))
    assert crop.shape == (16, 16, 3)
    assert (crop[8, 8] == 255).all() and (crop[7:10, 7:10] >= 200).all()  # the peak sits in the middle
    edge = np.asarray(m31).copy() // 4
    edge[0:3, 0:3] = 255
    crop = np.asarray(CenterOnBrightest(32, fill=7)(Image.fromarray(edge)))
    assert crop.shape == (32, 32, 3)
    assert (crop[:14, :14] == 7).all()  # padded beyond the top-left corner
    # tensors give the same crop as PIL
    t = CenterOnBrightest(16)(F.to_image(img))
    assert torch.equal(t, F.to_image(Image.fromarray(np.asarray(CenterOnBrightest(16)(img)))))


def test_to_rgb_handles_grey_first_images(first_image):
    assert first_image.mode != "RGB"
    assert ToRGB()(first_image).mode == "RGB"
    assert ToRGB()(F.to_image(first_image.convert("L"))).shape[0] == 3


def test_build_transform_shapes_determinism_and_symmetry(m31, first_image):
    mean, std = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)
    ev = build_transform(AugmentConfig(), 32, mean, std, train=False)
    x = ev(m31)
    assert x.shape == (3, 32, 32) and x.dtype == torch.float32
    assert torch.equal(ev(m31), x)
    assert ev(first_image).shape == (3, 32, 32)
    # 90-degree rotations and flips only permute pixels: sorted values equal the eval output's
    tr = build_transform(AugmentConfig(rot90=True, flips=True), 32, mean, std, train=True)
    outs = []
    for seed in range(8):
        torch.manual_seed(seed)
        y = tr(m31)
        assert torch.allclose(y.flatten().sort().values, x.flatten().sort().values, atol=1e-6)
        outs.append(y)
    assert any(not torch.equal(o, x) for o in outs)
    torch.manual_seed(3)
    assert torch.equal(tr(m31), outs[3])


def test_alma_affine_and_crop_run_on_real_images(m31, first_image):
    aug = AugmentConfig(
        rotate_degrees=180,
        shear_degrees=10,
        scale_min=0.4,
        scale_max=2.0,
        crop_scale_min=0.5,
        center_brightest=64,
    )
    tr = build_transform(aug, 48, (0.5,) * 3, (0.5,) * 3, train=True)
    torch.manual_seed(0)
    a, b = tr(m31), tr(first_image)
    assert a.shape == b.shape == (3, 48, 48)
    assert not torch.equal(a, tr(m31))


@pytest.mark.parametrize("bad", [dict(scale_min=0), dict(scale_min=2, scale_max=1), dict(crop_scale_min=1.5)])
def test_bad_config_is_rejected(bad):
    with pytest.raises(ValueError, match="augment"):
        build_transform(AugmentConfig(**bad), 32, (0.5,) * 3, (0.5,) * 3, train=True)
