"""Self-supervised encoders: augmentations, losses, GalaxIDNet score, and a short SimCLR run on real
FIRST radio images."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from accelerate_launch import two_processes

from hubbleclip.cli import main
from hubbleclip.metrics.similarity import galaxidnet_similarity, loose_accuracy
from hubbleclip.similarity.config import EncoderConfig, SimCLRConfig
from hubbleclip.similarity.encoders import load_image_encoder
from hubbleclip.similarity.images import load_images
from hubbleclip.similarity.losses import margin_contrastive, nt_xent, pair_batch
from hubbleclip.similarity.ssl_models import SimCLRModel

DATA = Path(__file__).parent / "data"
FIRST_ZIP = DATA / "first" / "galaxy_data.zip"
TINY = {
    "channels": [8, 16, 32, 64],
    "layers": [1, 1, 1, 1],
    "image_size": 32,
    "proj_hidden": 128,
    "proj_dim": 32,
}


def test_augmented_views_are_finite_and_sized():
    colour = load_images(DATA / "stellarium" / "nebulae" / "default", limit=3)
    # grey 300-px radio images, 96-px colour images and a non-square crop of one
    images = load_images(FIRST_ZIP, limit=4) + colour + [colour[0].crop((0, 0, 96, 40))]
    augment = SimCLRConfig().augment  # ALMA: any rotation, 10 deg shear, 0.4-2.0 scale, crops
    for size, centre in ((32, 0), (48, 96)):
        model = SimCLRModel(
            EncoderConfig(**{**TINY, "image_size": size}),
            augment.__class__(**{**augment.__dict__, "center_brightest": centre}),
        )
        tf = model.image_transform(train=True)
        torch.manual_seed(0)
        views = torch.stack([tf(im) for im in images for _ in range(2)])
        assert views.shape == (16, 3, size, size) and torch.isfinite(views).all()
        assert not torch.equal(views[0], views[1])  # two random views differ


def test_losses_and_galaxidnet_score():
    z = torch.nn.functional.normalize(torch.randn(16, 8, generator=torch.Generator().manual_seed(0)), dim=-1)
    other = torch.randn(16, 8, generator=torch.Generator().manual_seed(1))
    assert nt_xent(z, z, 0.1) < nt_xent(z, other, 0.1)
    a = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    b = torch.tensor([[0.0, 1.0], [0.6, 0.8]])
    # d = sqrt(2) and sqrt(0.8): positives pay d^2, negatives max(0, 1 - d)^2
    assert margin_contrastive(a, b, torch.tensor([1, 1])) == pytest.approx((2 + 0.8) / 2)
    assert margin_contrastive(a, b, torch.tensor([0, 0])) == pytest.approx((1 - 0.8**0.5) ** 2 / 2)
    pa, pb, same = pair_batch(z, z)
    assert margin_contrastive(pa[same == 1], pb[same == 1], same[same == 1]) == pytest.approx(0, abs=1e-6)
    sim = galaxidnet_similarity(z.numpy(), z.numpy())
    assert np.allclose(sim.diagonal(), np.ones(16), atol=1e-5) and (sim < 1 + 1e-5).all()
    assert loose_accuracy(z.numpy(), z.numpy(), batch=8) == 1.0
    assert loose_accuracy(z.numpy(), other.numpy(), batch=16) < 0.5


def test_vit_backbone():
    model = SimCLRModel(
        EncoderConfig(
            arch="vit", image_size=32, patch_size=8, vit_dim=32, vit_heads=2, proj_hidden=16, proj_dim=8
        )
    )
    h, z = model(torch.zeros(2, 3, 32, 32))
    assert h.shape == (2, 32) and z.shape == (2, 8)
    with pytest.raises(ValueError, match="arch"):
        SimCLRModel(EncoderConfig(arch="mlp"))


def test_short_simclr_run_lowers_loss(tmp_path):
    run = tmp_path / "simclr"
    args = [
        "similarity",
        "train",
        "--out",
        str(run),
        "--data.path",
        str(FIRST_ZIP),
        "--optim.batch_size",
        "12",
        "--optim.lr",
        "0.003",
        "--optim.epochs",
        "80",
        "--checkpoint.every_steps",
        "40",
        # rotations, flips and crops; no zoom or shear, so 80 tiny steps show a clear drop
        "--augment.scale_min",
        "1",
        "--augment.scale_max",
        "1",
        "--augment.shear_degrees",
        "0",
        "--augment.center_brightest",
        "96",
        "--log_every",
        "1000",
    ]
    for key, value in TINY.items():
        args += [f"--model.{key}", ",".join(map(str, value)) if isinstance(value, list) else str(value)]
    assert main(args) == 0
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in records if "loss" in r and "epoch" in r]
    assert len(losses) == 80
    assert np.mean(losses[-10:]) < np.mean(losses[:10]) - 0.2
    assert any("loose_accuracy" in r for r in records)
    encoder = load_image_encoder(f"simclr:{run}")
    emb = encoder.embed(load_images(FIRST_ZIP))
    assert emb.shape == (12, 64) and np.allclose(np.linalg.norm(emb, axis=1), 1, atol=1e-5)
    # a finished run is not overwritten by accident; the checkpoint resumes: 85 epochs run 5 more steps
    assert main([*args, "--optim.epochs", "85"]) == 2
    assert main([*args, "--optim.epochs", "85", "--resume", "latest"]) == 0  # the last flag wins
    losses = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert max(r["step"] for r in losses if "loss" in r) == 85


@pytest.mark.slow
def test_two_processes_write_each_metrics_record_once(tmp_path):
    run = tmp_path / "two"
    args = [
        *("--out", str(run), "--data.path", str(FIRST_ZIP), "--threads", "1"),
        *("--optim.batch_size", "12", "--optim.epochs", "3", "--eval.every_steps", "2"),
        *("--checkpoint.every_steps", "2", "--eval.images", "12"),
    ]
    for key, value in TINY.items():
        args += [f"--model.{key}", ",".join(map(str, value)) if isinstance(value, list) else str(value)]
    out = two_processes("training/simclr.py", args)
    assert out.returncode == 0, out.stderr[-3000:]
    lines = (run / "metrics.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["step"] for r in records if "loss" in r] == [1, 2, 3]  # once each, not once per process
    assert [r["step"] for r in records if "loose_accuracy" in r and "step" in r] == [2, 3]
    assert sum("first_loss" in r for r in records) == 1 and len(set(lines)) == len(lines)
    assert load_image_encoder(f"simclr:{run}").embed(load_images(FIRST_ZIP)).shape == (12, 64)
