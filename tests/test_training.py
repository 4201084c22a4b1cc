import json
import math
import re
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from accelerate_launch import two_processes
from safetensors.torch import load_file

from hubbleclip.config import load_config
from hubbleclip.data.load import encoded_images
from hubbleclip.models import load_model
from hubbleclip.models.feature_cache import image_key
from hubbleclip.runs import MetricsLog
from hubbleclip.training import TrainConfig, train
from hubbleclip.training.checkpoint import list_checkpoints
from hubbleclip.training.data import BatchPlan, imaged_split, sentence_chunk
from hubbleclip.training.freeze import configure_trainable, merge_lora, parameter_counts
from hubbleclip.training.losses import contrastive_loss, in_batch_hit_counts

REPO = Path(__file__).resolve().parents[1]


def settings(tiny, tiny_skyset, run_dir, **overrides) -> dict:
    """A short training run's settings, as ``--a.b`` keys; ``overrides`` win."""
    base = {
        "out": str(run_dir),
        "model.spec": tiny["tiny-lit"],
        "data.path": tiny_skyset,
        "optim.batch_size": 8,
        "optim.max_steps": 8,
        "log_every": 1,
        "eval.every_steps": 4,
        "eval.batch_size": 3,
        "eval.top_k": 2,
        "checkpoint.every_steps": 4,
        "freeze.cache_dir": str(Path(run_dir).parent / "cache"),
        "threads": 2,
    }
    return {**base, **overrides}


def config(tiny, tiny_skyset, run_dir, **overrides) -> TrainConfig:
    return load_config(TrainConfig, None, settings(tiny, tiny_skyset, run_dir, **overrides))


def records(run_dir, key="loss"):
    return [(r["step"], r[key]) for r in MetricsLog(Path(run_dir) / "metrics.jsonl").read() if key in r]


def state_of(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


# ---------------------------------------------------------------- losses


@pytest.fixture(scope="module")
def accelerator():
    from accelerate import Accelerator

    return Accelerator(cpu=True)


def test_infonce_and_siglip_equal_hand_computed_values(accelerator):
    img = torch.tensor([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]])
    txt = torch.tensor([[0.8, 0.6], [0.0, 1.0], [1.0, 0.0]])
    scale, bias = math.log(2.0), -1.0
    sims = [[sum(a * b for a, b in zip(i, t)) for t in txt.tolist()] for i in img.tolist()]
    i2t = [-math.log(math.exp(2 * sims[i][i]) / sum(math.exp(2 * s) for s in sims[i])) for i in range(3)]
    t2i = [
        -math.log(math.exp(2 * sims[j][j]) / sum(math.exp(2 * sims[i][j]) for i in range(3)))
        for j in range(3)
    ]
    expected = (sum(i2t) / 3 + sum(t2i) / 3) / 2
    got = contrastive_loss("infonce", img, txt, torch.tensor(scale), torch.tensor(bias), accelerator)
    assert got.item() == pytest.approx(expected, rel=1e-6)
    sig = (
        -sum(
            math.log(1 / (1 + math.exp(-(1 if i == j else -1) * (2 * sims[i][j] + bias))))
            for i in range(3)
            for j in range(3)
        )
        / 3
    )
    got = contrastive_loss("siglip", img, txt, torch.tensor(scale), torch.tensor(bias), accelerator)
    assert got.item() == pytest.approx(sig, rel=1e-6)


def test_in_batch_hits_count_shared_captions_as_matches():
    img = torch.eye(3)
    txt = torch.tensor([[0.1, 1.0, 0.0], [1.0, 0.1, 0.0], [0.0, 0.0, 1.0]])
    # images 0 and 1 share a caption, so image 0 retrieving text 1 is right
    hits = in_batch_hit_counts(img, txt, ["FRI", "FRI", "M31"], k=1)
    assert hits == {"i2t_top1": 3.0, "t2i_top1": 3.0}
    hits = in_batch_hit_counts(img, txt, ["a", "b", "c"], k=2)
    assert hits["i2t_top1"] == 1.0 and hits["i2t_top2"] == 3.0


def test_sentence_chunks_and_batch_plan():
    text = "M31 is a spiral galaxy. It lies in Andromeda. It is bright; easy to see! The end."
    rng = np.random.default_rng(0)
    chunks = {sentence_chunk(text, 8, rng) for _ in range(40)}
    assert all(len(c.split()) <= 8 and c[-1] in ".;!" for c in chunks) and len(chunks) > 2
    assert sentence_chunk("one two three four five", 3, rng) == "one two three"
    one = BatchPlan(10, 4, world=1, rank=0, seed=1, stop=6)
    two = [BatchPlan(10, 4, world=2, rank=r, seed=1, stop=6) for r in range(2)]
    assert [a + b for a, b in zip(*two)] == list(one)  # the processes split the same global batches
    assert list(BatchPlan(10, 4, 1, 0, seed=1, start=3, stop=6)) == list(one)[3:]  # resuming mid-way
    with pytest.raises(ValueError, match="divisible"):
        BatchPlan(10, 3, world=2, rank=0, seed=0)


# ---------------------------------------------------------------- freezing and LoRA


def test_locked_towers_with_unlocked_blocks_leave_frozen_weights_unchanged(tiny, tiny_skyset, tmp_path):
    cfg = config(
        tiny,
        tiny_skyset,
        tmp_path / "run",
        **{
            "freeze.lock_image": True,
            "freeze.unlock_image_blocks": 1,
            "freeze.lock_text": True,
            "optim.max_steps": 4,
        },
    )
    before = state_of(load_model(tiny["tiny-lit"]))
    train(cfg)
    after = load_model(tmp_path / "run" / "export")
    changed = {k for k, v in after.state_dict().items() if not torch.equal(v, before[k])}
    assert changed, "nothing trained"
    last_block = f"image_trunk.blocks.{len(after.image_trunk.blocks) - 1}."
    allowed = (
        "image_proj.",
        "text_proj.",
        "_logit_scale",
        last_block,
        "image_trunk.conv_head.",
        "image_trunk.bn2.",
    )
    assert all(k.startswith(allowed) for k in changed), sorted(changed)
    assert any(k.startswith(last_block) for k in changed) and any(k.startswith("text_proj.") for k in changed)


def test_lora_trains_only_adapters_and_merges_on_export(tiny, tiny_skyset, tmp_path):
    cfg = config(
        tiny,
        tiny_skyset,
        tmp_path / "run",
        **{
            "model.spec": tiny["tiny-hf"],
            "freeze.lora_text": True,
            "freeze.lock_image": True,
            "optim.max_steps": 4,
            "freeze.lora_r": 4,
        },
    )
    model = load_model(tiny["tiny-hf"])
    before = state_of(model)
    configure_trainable(model, cfg.freeze, train_bias=False)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all(
        "lora_" in n or n.startswith(("net.visual_projection", "net.text_projection", "net.logit_scale"))
        for n in trainable
    )
    assert parameter_counts(model)[0] < parameter_counts(model)[1] / 10
    train(cfg)
    ckpt = list_checkpoints(tmp_path / "run")[-1]
    from safetensors.torch import load_file

    saved = load_file(str(ckpt / "trainable.safetensors"))
    assert any("lora_B" in k for k in saved)
    after = load_model(tmp_path / "run" / "export")  # merged: a plain CLIPModel again
    assert not any("lora" in k for k in after.state_dict())
    changed = {k for k, v in after.state_dict().items() if not torch.equal(v, before[k])}
    assert any(".self_attn.q_proj.weight" in k and "text_model" in k for k in changed)

    def may_change(k):  # merged adapters, the projection heads and the temperature; nothing else
        return (k.startswith("net.text_model.") and k.endswith(("q_proj.weight", "v_proj.weight"))) or k in {
            "net.visual_projection.weight",
            "net.text_projection.weight",
            "net.logit_scale",
        }

    assert all(may_change(k) for k in changed), sorted(changed)


def test_merge_lora_keeps_outputs(tiny):
    model = load_model(tiny["tiny-open_clip"])
    cfg = load_config(TrainConfig, None, {"freeze.lora_text": True, "freeze.lora_image": True})
    configure_trainable(model, cfg.freeze, train_bias=False)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.05)
        tokens = model.tokenize(["a planetary nebula", "a globular cluster"])
        pixels = torch.randn(2, 3, 32, 32)
        ref = model.encode_text(tokens), model.encode_image(pixels)
        merge_lora(model)
        assert not any("lora" in n for n, _ in model.named_parameters())
        torch.testing.assert_close(model.encode_text(tokens), ref[0], atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(model.encode_image(pixels), ref[1], atol=1e-5, rtol=1e-4)


# ---------------------------------------------------------------- training runs


def test_short_training_on_real_images_lowers_the_loss_and_exports(tiny, tiny_skyset, tmp_path):
    from hubbleclip.models.feature_cache import FeatureCache
    from hubbleclip.training.trainer import pair_dataset, validate

    cfg = config(
        tiny,
        tiny_skyset,
        tmp_path / "run",
        **{
            "optim.max_steps": 30,
            "eval.every_steps": 30,
            "checkpoint.every_steps": 10,
            "checkpoint.keep_best": 1,
        },
    )
    result = train(cfg)
    losses = [v for _, v in records(tmp_path / "run")]
    assert len(losses) == 30 and np.mean(losses[-5:]) < 0.8 * np.mean(losses[:5])
    run = tmp_path / "run"
    assert (run / "config.yaml").is_file() and list((run / "tensorboard").rglob("events.out.tfevents*"))
    assert [p.name for p in list_checkpoints(run)] == ["step-0000030"]  # latest (also the only validated one)
    start = json.loads((run / "metrics.jsonl").read_text().splitlines()[0])
    assert start["event"] == "start" and 0 < start["trainable_params"] <= start["total_params"]
    # the export reproduces the final validation numbers
    from accelerate import Accelerator

    model = load_model(run / "export")
    val_pairs = pair_dataset(
        cfg, model, imaged_split(tiny_skyset, "val"), False, FeatureCache(None), Accelerator(cpu=True)
    )
    val = validate(model, val_pairs, cfg, Accelerator(cpu=True))
    assert val["val_loss"] == pytest.approx(result["val_loss"], rel=1e-5)
    with pytest.raises(FileExistsError, match="--resume latest"):
        train(cfg)


def test_export_best_is_the_checkpoint_with_the_lowest_validation_loss(tiny, tiny_skyset, tmp_path):
    from accelerate import Accelerator

    from hubbleclip.models.feature_cache import FeatureCache
    from hubbleclip.training.trainer import pair_dataset, validate

    steps = {"optim.max_steps": 12, "eval.every_steps": 2, "checkpoint.every_steps": 2, "optim.lr": 0.003}
    cfg = config(
        tiny,
        tiny_skyset,
        tmp_path / "run",
        **steps,
        **{"checkpoint.keep_best": 1, "checkpoint.export": "best"},
    )
    result = train(cfg)
    run = tmp_path / "run"
    val = dict(records(run, "val_loss"))
    best = min((v, s) for s, v in val.items() if s > 0)[1]
    assert best != 12  # so that the best checkpoint is not also the last one
    assert result["exported_checkpoint"] == f"step-{best:07d}"
    assert [p.name for p in list_checkpoints(run)] == [f"step-{best:07d}", "step-0000012"]
    export = load_model(run / "export")
    state = export.state_dict()
    for step, same in ((best, True), (12, False)):
        saved = load_file(str(run / "checkpoints" / f"step-{step:07d}" / "trainable.safetensors"))
        assert all(torch.equal(state[k], v) for k, v in saved.items() if k in state) == same
    pairs = pair_dataset(
        cfg, export, imaged_split(tiny_skyset, "val"), False, FeatureCache(None), Accelerator(cpu=True)
    )
    assert validate(export, pairs, cfg, Accelerator(cpu=True))["val_loss"] == pytest.approx(
        val[best], rel=1e-5
    )
    with pytest.raises(ValueError, match="keep_best"):
        train(
            config(
                tiny,
                tiny_skyset,
                tmp_path / "none",
                **{"checkpoint.export": "best", "checkpoint.keep_best": 0},
            )
        )


def test_cached_locked_towers_match_uncached_training(tiny, tiny_skyset, tmp_path):
    fixed = {
        "freeze.lock_image": True,
        "freeze.lock_text": True,
        "augment.rot90": False,
        "augment.flips": False,
        "optim.max_steps": 6,
    }
    train(config(tiny, tiny_skyset, tmp_path / "cached", **fixed))
    # one image and one text namespace, holding each train/val image and distinct caption once
    cache = tmp_path / "cache"
    assert sorted(p.name.split("-")[0] for p in cache.iterdir()) == ["image", "text"]
    splits = [imaged_split(tiny_skyset, s) for s in ("train", "val")]
    stored = {
        kind: [k for shard in cache.glob(f"{kind}-*/*.safetensors") for k in load_file(str(shard))["keys"]]
        for kind in ("image", "text")
    }
    assert len(stored["image"]) == len({image_key(im) for ds in splits for im in encoded_images(ds)})
    assert len(stored["text"]) == len({c for ds in splits for c in ds["caption"]})
    shards = sorted(cache.rglob("*.safetensors"))
    train(config(tiny, tiny_skyset, tmp_path / "again", **fixed))
    assert sorted(cache.rglob("*.safetensors")) == shards  # nothing computed twice
    train(config(tiny, tiny_skyset, tmp_path / "plain", **fixed, **{"freeze.cache_features": False}))
    a, b = records(tmp_path / "cached"), records(tmp_path / "plain")
    assert len(a) == 6 and np.allclose([v for _, v in a], [v for _, v in b], rtol=1e-5)


# A training child that SIGKILLs itself once it has checkpointed and then logged a step past that
# checkpoint: a kill at a known point, so the run can neither finish first nor die before saving.
KILLED_AFTER_FIRST_CHECKPOINT = """
import os, signal, sys
from hubbleclip.cli import main
from hubbleclip.training.session import TrainingSession

save, log, saved = TrainingSession.save_checkpoint, TrainingSession.log, []

def save_checkpoint(self, step, *args, **kwargs):
    save(self, step, *args, **kwargs)
    saved.append(step)

def log_then_die(self, **record):
    log(self, **record)
    if saved and record.get("step", 0) > saved[0]:  # resuming must drop this record
        os.kill(os.getpid(), signal.SIGKILL)

TrainingSession.save_checkpoint, TrainingSession.log = save_checkpoint, log_then_die
sys.exit(main(["train", *sys.argv[1:]]))
"""


@pytest.mark.slow
def test_resume_after_kill_matches_uninterrupted_run(tiny, tiny_skyset, tmp_path):
    steps = {
        "optim.max_steps": 60,
        "checkpoint.every_steps": 4,
        "eval.every_steps": 4,
        "optim.schedule": "cosine",
        "optim.warmup_steps": 5,
        "checkpoint.keep_best": 1,
    }
    train(config(tiny, tiny_skyset, tmp_path / "whole", **steps))
    killed = tmp_path / "killed"
    args = [f"--{k}={v}" for k, v in settings(tiny, tiny_skyset, killed, **steps).items()]
    proc = subprocess.run(
        [sys.executable, "-c", KILLED_AFTER_FIRST_CHECKPOINT, *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-3000:]
    assert [c.name for c in list_checkpoints(killed)] == ["step-0000004"] and not (killed / "export").exists()
    assert records(killed)[-1][0] == 5  # logged past its checkpoint
    train(config(tiny, tiny_skyset, killed, resume="latest", **steps))
    for key in ("loss", "val_loss", "lr"):
        whole, resumed = records(tmp_path / "whole", key), records(killed, key)
        assert [s for s, _ in whole] == [s for s, _ in resumed]
        np.testing.assert_allclose([v for _, v in resumed], [v for _, v in whole], rtol=1e-5, atol=1e-7)


@pytest.mark.slow
def test_two_processes_give_the_same_losses_as_one(tiny, tiny_skyset, tmp_path):
    steps = {
        "model.spec": tiny["tiny-open_clip"],
        "optim.max_steps": 5,
        "augment.rotate_degrees": 30,
        "threads": 1,
        "eval.every_steps": 5,
        "checkpoint.every_steps": 5,
    }
    train(config(tiny, tiny_skyset, tmp_path / "one", **steps))
    two = config(tiny, tiny_skyset, tmp_path / "two", **steps)
    args = [
        f"--{k}={v}"
        for k, v in {
            "out": two.out,
            "data.path": tiny_skyset,
            "optim.batch_size": 8,
            "log_every": 1,
            "eval.batch_size": 3,
            "eval.top_k": 2,
            "freeze.cache_dir": two.freeze.cache_dir,
            **steps,
        }.items()
    ]
    out = two_processes("training/train.py", args)
    assert out.returncode == 0, out.stderr[-3000:]
    start = json.loads((tmp_path / "two" / "metrics.jsonl").read_text().splitlines()[0])
    assert start["processes"] == 2
    for key in ("loss", "val_loss"):
        one, two_ = records(tmp_path / "one", key), records(tmp_path / "two", key)
        assert len(one) == len(two_) > 0
        np.testing.assert_allclose([v for _, v in two_], [v for _, v in one], rtol=1e-5)


def test_bad_settings_are_rejected(tiny, tiny_skyset, tmp_path):
    with pytest.raises(ValueError, match=re.escape("needs freeze.lock_image")):
        train(config(tiny, tiny_skyset, tmp_path / "a", **{"freeze.unlock_image_blocks": 1}))
    with pytest.raises(ValueError, match="larger than the"):
        train(config(tiny, tiny_skyset, tmp_path / "b", **{"optim.batch_size": 1000}))
    with pytest.raises(ValueError, match="no 'caption_llm' column"):
        train(config(tiny, tiny_skyset, tmp_path / "c", **{"data.captions": "caption_llm"}))


def test_cli_help_lists_config_fields():
    out = subprocess.run(
        [sys.executable, str(REPO / "training/train.py"), "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (
        out.returncode == 0
        and "--freeze.unlock_text_blocks" in out.stdout
        and "--optim.schedule" in out.stdout
    )


def test_model_shorthand_overrides_the_config_file(tiny, tiny_skyset, tmp_path, capsys):
    """The README's real-CLIP command: --model is --model.spec, and offline it fails in one clear line."""
    from hubbleclip.cli import build_parser, main
    from hubbleclip.config import config_from_args

    argv = [
        "train",
        "--config",
        str(REPO / "training/configs/vitb32-paperclip.yaml"),
        "--model",
        tiny["tiny-open_clip"],
    ]
    cfg = config_from_args(build_parser().parse_args(argv), TrainConfig)
    assert (
        cfg.model.spec == tiny["tiny-open_clip"] and cfg.optim.lr == 1e-5 and cfg.optim.warmup_steps == 2000
    )
    assert (
        main(
            [
                "train",
                "--config",
                str(REPO / "training/configs/vitb32-paperclip.yaml"),
                "--model",
                "open_clip:ViT-B-32@openai",
                "--data.path",
                tiny_skyset,
                "--out",
                str(tmp_path / "run"),
            ]
        )
        == 2
    )
    assert (
        "pass it as a file: --model.spec open_clip:ViT-B-32@/path/to/checkpoint.bin"
        in capsys.readouterr().err
    )
