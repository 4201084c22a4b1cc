"""training/configs/paperclip.yaml: the paper's recipe as one config, run for a few steps on CPU."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from hubbleclip.config import load_config
from hubbleclip.figures.training_curves import draw_paper
from hubbleclip.runs import MetricsLog
from hubbleclip.training import TrainConfig, train
from hubbleclip.training.checkpoint import list_checkpoints
from hubbleclip.training.optim import build_scheduler
from hubbleclip.training.trainer import own_partner_t2i_hits

RECIPE = Path(__file__).resolve().parents[1] / "training" / "configs" / "paperclip.yaml"


def recipe(**overrides) -> TrainConfig:
    return load_config(TrainConfig, RECIPE, overrides)


def lrs_of(schedule_cfg: TrainConfig, steps: list[int]) -> list[float]:
    """The learning rate each optimizer step (from 0) trains with under the config's schedule."""
    opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=schedule_cfg.optim.lr)
    o = schedule_cfg.optim
    sched = build_scheduler(opt, o.warmup_steps, o.schedule, o.max_steps)
    out, want = [], set(steps)
    for s in range(max(steps) + 1):
        if s in want:
            out.append(sched.get_last_lr()[0])
        opt.step()
        sched.step()
    return out


def test_the_recipe_is_the_papers():
    cfg = recipe()
    assert cfg.model.spec == "open_clip:ViT-B-16@openai"
    assert (cfg.optim.batch_size, cfg.optim.lr, cfg.optim.weight_decay) == (32, 1e-5, 1e-3)
    assert (cfg.optim.max_steps, cfg.optim.warmup_steps, cfg.optim.schedule) == (20_000, 2_000, "constant")
    assert cfg.augment.rot90 and cfg.augment.flips and cfg.augment.crop_scale_min < 1
    assert (cfg.eval.every_steps, cfg.eval.batch_size, cfg.eval.top_k) == (200, 100, 10)
    assert (cfg.checkpoint.every_steps, cfg.checkpoint.keep_best) == (200, 3)
    # 2,000 linear warm-up steps, then constant
    assert lrs_of(cfg, [0, 999, 1999, 2000, 19_999]) == pytest.approx([5e-9, 5e-6, 1e-5, 1e-5, 1e-5])
    for spec in ("open_clip:ViT-B-16@openai", "hf:openai/clip-vit-base-patch16", "open_clip:ViT-B-16@/x.bin"):
        assert recipe(**{"model.spec": spec}).model.spec == spec


def test_own_partner_hits_count_only_the_partner_and_ties_against():
    img = torch.eye(4)[:3]  # images 0, 1, 2
    txt = torch.stack([img[0], img[0], img[2]])  # text 1 is image 0's caption again: not its partner
    assert own_partner_t2i_hits(img, txt, k=1) == 2  # texts 0 and 2
    assert own_partner_t2i_hits(img, txt, k=2) == 2  # text 1's partner ties with a third image, at rank 3
    assert own_partner_t2i_hits(img, txt, k=3) == 3
    same = torch.ones(3, 4, dtype=torch.float32) / 2  # collapsed: every score ties
    assert own_partner_t2i_hits(same, same, k=2) == 0


def small(tiny, tiny_skyset, run_dir, **overrides) -> dict:
    """The recipe's settings on small data: fewer steps, a short warm-up, small batches."""
    return {
        "out": str(run_dir),
        "data.path": tiny_skyset,
        "data.num_workers": 0,
        "freeze.cache_dir": str(Path(run_dir).parent / "cache"),
        "threads": 2,
        "log_every": 1,
        **overrides,
    }


def test_recipe_schedule_validation_cadence_and_three_best_checkpoints(tiny, tiny_skyset, tmp_path):
    run = tmp_path / "run"
    steps = {
        "model.spec": tiny["tiny-open_clip"],
        "optim.batch_size": 4,
        "optim.warmup_steps": 3,
        "optim.lr": 1e-3,
        "eval.every_steps": 2,
        "eval.batch_size": 3,
        "eval.top_k": 2,
        "checkpoint.every_steps": 2,
    }
    train(recipe(**small(tiny, tiny_skyset, run, **steps, **{"optim.max_steps": 8})))
    log = MetricsLog(run / "metrics.jsonl").read()
    lrs = [r["lr"] for r in log if "lr" in r]
    assert lrs == pytest.approx([1e-3 / 3, 2e-3 / 3, 1e-3, 1e-3, 1e-3, 1e-3, 1e-3, 1e-3])
    vals = {r["step"]: r for r in log if "val_loss" in r}
    assert sorted(vals) == [0, 2, 4, 6, 8]
    for r in vals.values():  # the paper's training metric, own partner only, in full batches of 3
        assert 0 <= r["val_pair_t2i_top2"] <= 1 and r["val_pair_batch_size"] == 3
        assert r["val_pair_chance"] == pytest.approx(2 / 3) and r["val_pair_batches"] >= 1
    best3 = sorted(sorted((vals[s]["val_loss"], s) for s in (2, 4, 6, 8))[:3], key=lambda t: t[1])
    kept = {p.name for p in list_checkpoints(run)}
    assert kept == {f"step-{s:07d}" for _, s in best3} | {"step-0000008"}
    best = min(best3)[1]
    # the paper's training plot is drawn from this log
    figure = draw_paper(log, tmp_path / "paper_metric")
    assert [p.suffix for p in figure] == [".png", ".pdf"] and all(p.stat().st_size > 0 for p in figure)
    export = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
    assert export["event"] == "export" and export["exported_checkpoint"] == f"step-{best:07d}"
    # resume continues the run and keeps pruning to the 3 best plus the latest
    train(recipe(**small(tiny, tiny_skyset, run, **steps, **{"optim.max_steps": 10, "resume": "latest"})))
    vals = {r["step"]: r["val_loss"] for r in MetricsLog(run / "metrics.jsonl").read() if "val_loss" in r}
    assert sorted(vals) == [0, 2, 4, 6, 8, 10]
    best3 = sorted((v, s) for s, v in vals.items() if s)[:3]
    kept = {p.name for p in list_checkpoints(run)}
    assert kept == {f"step-{s:07d}" for _, s in best3} | {"step-0000010"}


@pytest.mark.slow
def test_recipe_runs_on_a_random_init_vit_b16(tiny_skyset, tmp_path):
    """A few steps of the real architecture (open_clip ViT-B-16 without a pretrained tag: built
    offline); the export loads with open_clip's own loader and ships its card."""
    import open_clip

    run = tmp_path / "run"
    overrides = {
        "model.spec": "open_clip:ViT-B-16",
        "optim.batch_size": 2,
        "optim.max_steps": 2,
        "optim.warmup_steps": 1,
        "data.max_train_rows": 8,
        "eval.every_steps": 2,
        "eval.batch_size": 2,
        "checkpoint.every_steps": 2,
    }
    train(recipe(**small(None, tiny_skyset, run, **overrides)))
    vals = [r for r in MetricsLog(run / "metrics.jsonl").read() if "val_loss" in r]
    assert [r["step"] for r in vals] == [0, 2] and all("val_pair_t2i_top10" in r for r in vals)
    model, _ = open_clip.create_model_from_pretrained(f"local-dir:{run / 'export'}")
    assert model.visual.patch_size == (16, 16) and len(model.visual.transformer.resblocks) == 12
    card = (run / "export" / "README.md").read_text()
    assert "library_name: open_clip" in card and "open_clip:ViT-B-16" in card
