"""The training loop, under Hugging Face Accelerate.

The same code runs as ``python training/train.py`` (one process) and under
``accelerate launch --multi_gpu --num_processes N training/train.py`` (gloo on CPU, NCCL on GPUs,
bf16/fp16).  A global batch of ``optim.batch_size`` pairs is split evenly over the processes and
the loss is the global batch's (see :mod:`hubbleclip.training.losses`), so N processes follow the
same trajectory as one, except where a trained tower has BatchNorm: its batch statistics are
per process, as in plain DDP.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import shutil
import time
from pathlib import Path

import torch

from hubbleclip.errors import UserError
from hubbleclip.training.config import TrainConfig

log = logging.getLogger(__name__)
EXPORT = "export"


def _resume_path(cfg: TrainConfig, run_dir: Path) -> Path | None:
    from hubbleclip.training.checkpoint import CHECKPOINTS, list_checkpoints

    ckpts = list_checkpoints(run_dir)
    if cfg.resume == "latest":
        if not ckpts:
            log.info("resume=latest: no checkpoint in %s yet, starting from scratch", run_dir / CHECKPOINTS)
        return ckpts[-1] if ckpts else None
    if cfg.resume:
        if not Path(cfg.resume, "state.json").is_file():
            raise FileNotFoundError(
                f"resume={cfg.resume}: not a checkpoint directory (expected state.json in it)"
            )
        return Path(cfg.resume)
    if ckpts and not cfg.overwrite:
        raise FileExistsError(
            f"{run_dir} already has checkpoints: pass --resume latest to continue "
            "or --overwrite true to start again"
        )
    return None


def _load_split(path: str, split: str, limit: int = 0):
    from hubbleclip.data.info import load_dataset_dict
    from hubbleclip.training.data import imaged_indices

    dd = load_dataset_dict(path)
    if split not in dd:
        raise UserError(f"{path}: no split {split!r} (splits: {', '.join(dd)})")
    rows = imaged_indices(dd[split])
    if limit:
        rows = rows[:limit]
    return dd[split].select(rows)


def _pairs(cfg: TrainConfig, model, ds, split: str, train: bool, accelerator):
    """A PairDataset over ``ds`` with the locked towers' features cached where possible."""
    from hubbleclip.training import cache
    from hubbleclip.training.data import PairDataset, caption_column
    from hubbleclip.training.freeze import tower_is_static

    column = caption_column(ds, cfg.data.captions)
    captions = ds[column] if column else None
    texts = None if column else ds["text"]
    transform = model.image_transform(train=train, augment=cfg.augment)
    image_feats = text_feats = None
    directory = cache.cache_dir(cfg.freeze.cache_dir)
    if cfg.freeze.cache_features and tower_is_static(cfg.freeze, "image"):
        eval_tf = model.image_transform(train=False, augment=cfg.augment)
        key = {
            "what": "image",
            "spec": model.spec,
            "tower": cache.tower_key(model, "image"),
            "data": ds._fingerprint,
            "transform": repr(eval_tf),
        }
        image_feats = cache.cached_features(
            key,
            lambda: cache.image_features(model, ds.select_columns(["image"]), eval_tf),
            directory,
            accelerator,
        )
    if cfg.freeze.cache_features and tower_is_static(cfg.freeze, "text") and captions is not None:
        key = {
            "what": "text",
            "spec": model.spec,
            "tower": cache.tower_key(model, "text"),
            "data": ds._fingerprint,
            "column": column,
        }
        text_feats = cache.cached_features(
            key, lambda: cache.text_features(model, captions), directory, accelerator
        )
    if train and image_feats is not None:
        log.info("image tower locked and cached: %s images are seen without train augmentations", split)
    return PairDataset(
        ds, captions, texts, transform, cfg.seed, cfg.data.chunk_words, image_feats, text_feats
    )


def _inputs(images, texts, model, device) -> dict:
    """Keyword arguments of ClipModel.forward for one collated batch."""
    out = {}
    if images.ndim == 2:  # cached features, not pixels
        out["image_feats"] = images.to(device)
    else:
        out["images"] = images.to(device)
    if isinstance(texts, torch.Tensor):
        out["text_feats"] = texts.to(device)
    else:
        out["tokens"] = {k: v.to(device) for k, v in model.tokenize(texts).items()}
    return out


@torch.no_grad()
def validate(model, pairs, cfg: TrainConfig, accelerator) -> dict[str, float]:
    """Mean loss and in-batch top-1/top-k retrieval over fixed validation batches (sharded over processes)."""
    from hubbleclip.training.data import collate
    from hubbleclip.training.losses import in_batch_hits, infonce_loss, siglip_loss

    bs, n = cfg.eval.batch_size, len(pairs)
    starts = list(range(0, n - bs + 1, bs)) or (
        [0] if n >= 2 else []
    )  # full batches; one short batch if that is all
    model.eval()
    sums = torch.zeros(6, dtype=torch.float64)
    for b in starts[accelerator.process_index :: accelerator.num_processes]:
        images, texts, captions = collate([pairs[(0, r)] for r in range(b, min(b + bs, n))])
        img, txt = model(**_inputs(images, texts, model, model.device))
        img, txt = img.float(), txt.float()
        if cfg.loss.kind == "siglip":
            loss = siglip_loss(img, txt, model.logit_scale, model.logit_bias)
        else:
            loss = infonce_loss(img, txt, model.logit_scale)
        hits = in_batch_hits(img, txt, captions, cfg.eval.top_k)
        k = cfg.eval.top_k
        sums += torch.tensor(
            [loss.item(), 1, len(captions), hits["i2t_top1"], hits[f"i2t_top{k}"], hits[f"t2i_top{k}"]],
            dtype=torch.float64,
        )
    sums = accelerator.reduce(sums.to(accelerator.device), "sum").cpu()
    if sums[1] == 0:
        return {}
    return {
        "val_loss": float(sums[0] / sums[1]),
        "val_i2t_top1": float(sums[3] / sums[2]),
        f"val_i2t_top{cfg.eval.top_k}": float(sums[4] / sums[2]),
        f"val_t2i_top{cfg.eval.top_k}": float(sums[5] / sums[2]),
        "val_pairs": int(sums[2]),
    }


def _report(step: int, val: dict, metrics, accelerator) -> None:
    if not val:
        return
    if accelerator.is_main_process:
        metrics.log(step=step, **val)
    accelerator.log(val, step=step)
    log.info("step %d validation: %s", step, ", ".join(f"{k} {v:.4f}" for k, v in val.items()))


def train(cfg: TrainConfig) -> dict:
    """Run (or resume) one training job; returns the final metrics."""
    from accelerate import Accelerator
    from accelerate.utils import gather_object, set_seed
    from torch.utils.data import DataLoader

    from hubbleclip.io import MetricsLog, atomic_write_text, setup_run_dir
    from hubbleclip.models import load_model
    from hubbleclip.training.checkpoint import load_checkpoint, prune_checkpoints, rng_state, save_checkpoint
    from hubbleclip.training.data import BatchPlan, collate
    from hubbleclip.training.freeze import configure_trainable, merge_lora, parameter_counts, set_train_modes
    from hubbleclip.training.losses import contrastive_loss
    from hubbleclip.training.optim import build_optimizer, build_scheduler

    run_dir = Path(cfg.run_dir)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    # without a GPU, processes started by torchrun / `accelerate launch --multi_gpu` join as gloo CPU workers
    accelerator = Accelerator(
        cpu=not torch.accelerator.is_available(),
        mixed_precision=cfg.optim.mixed_precision,
        log_with="tensorboard",
        project_dir=str(run_dir),
    )
    main = accelerator.is_main_process
    if not main:  # one process reports
        logging.getLogger("hubbleclip").setLevel(logging.WARNING)
    resume = _resume_path(cfg, run_dir)
    metrics = MetricsLog(run_dir / "metrics.jsonl")
    if main:
        if cfg.overwrite and not resume:
            shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)
            shutil.rmtree(run_dir / EXPORT, ignore_errors=True)
            metrics.path.unlink(missing_ok=True)
        setup_run_dir(run_dir, cfg)
    accelerator.wait_for_everyone()

    set_seed(cfg.seed)  # identical initial weights (LoRA, heads) in every process
    model = load_model(cfg.model.spec)
    configure_trainable(model, cfg.freeze, train_bias=cfg.loss.kind == "siglip")
    n_train, n_total = parameter_counts(model)
    log.info(
        "model %s: %s trainable of %s parameters (%.2f%%)",
        cfg.model.spec,
        f"{n_train:,}",
        f"{n_total:,}",
        100 * n_train / n_total,
    )

    train_ds = _load_split(cfg.data.path, cfg.data.train_split, cfg.data.max_train_rows)
    model.to(accelerator.device)
    train_pairs = _pairs(cfg, model, train_ds, "train", True, accelerator)
    val_pairs = (
        _pairs(cfg, model, _load_split(cfg.data.path, cfg.data.val_split), "val", False, accelerator)
        if cfg.data.val_split
        else None
    )
    log.info("%d training pairs, %d validation pairs", len(train_pairs), len(val_pairs) if val_pairs else 0)

    optimizer = build_optimizer(model, cfg.optim)
    scheduler = build_scheduler(
        optimizer, cfg.optim
    )  # stepped once per optimizer step by us, not by accelerate
    ddp_model, optimizer = accelerator.prepare(model, optimizer)
    world, rank = accelerator.num_processes, accelerator.process_index

    step, best = 0, math.inf
    if resume:
        state = load_checkpoint(resume, model, optimizer, scheduler, rank)
        step, best = state["step"], state.get("best_val_loss") or math.inf
        log.info("resumed from %s at step %d", resume, step)
        if main:  # drop what the interrupted run logged after this checkpoint
            kept = [r for r in metrics.read() if r.get("step", 0) <= step]
            atomic_write_text(metrics.path, "".join(json.dumps(r) + "\n" for r in kept))
    else:
        set_seed(cfg.seed + rank)  # distinct dropout per process
    accelerator.init_trackers("tensorboard")
    if main and not resume:
        metrics.log(
            step=0,
            event="start",
            trainable_params=n_train,
            total_params=n_total,
            processes=world,
            train_pairs=len(train_pairs),
            val_pairs=len(val_pairs) if val_pairs else 0,
        )
    if val_pairs is not None and not resume:  # the starting point, to compare the fine-tuned numbers with
        _report(0, validate(model, val_pairs, cfg, accelerator), metrics, accelerator)

    accum = cfg.optim.grad_accum_steps
    plan = BatchPlan(
        len(train_pairs),
        cfg.optim.batch_size,
        world,
        rank,
        cfg.seed,
        start=step * accum,
        stop=cfg.optim.max_steps * accum,
    )
    batches = iter(
        DataLoader(train_pairs, batch_sampler=plan, collate_fn=collate, num_workers=cfg.data.num_workers)
    )
    result: dict = {}
    window_loss, window_steps, window_time = 0.0, 0, 0.0
    while step < cfg.optim.max_steps:
        t0 = time.perf_counter()
        set_train_modes(model, cfg.freeze)
        step_loss = 0.0
        for micro in range(accum):
            images, texts, _ = next(batches)
            sync = micro == accum - 1
            with (
                accelerator.no_sync(ddp_model) if not sync else contextlib.nullcontext(),
                accelerator.autocast(),
            ):
                img, txt = ddp_model(**_inputs(images, texts, model, accelerator.device))
                loss = contrastive_loss(
                    cfg.loss.kind, img, txt, model.logit_scale, model.logit_bias, accelerator
                )
            accelerator.backward(loss * world / accum)
            step_loss += loss.item() / accum
        if cfg.optim.max_grad_norm > 0:
            accelerator.clip_grad_norm_(
                [p for p in model.parameters() if p.requires_grad], cfg.optim.max_grad_norm
            )
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100))  # CLIP's cap on the temperature
        step += 1
        window_loss, window_steps = window_loss + step_loss, window_steps + 1
        window_time += time.perf_counter() - t0  # training only: validation and checkpoints not counted
        last = step == cfg.optim.max_steps
        if step % cfg.log_every == 0 or last:
            record = {
                "step": step,
                "epoch": round(step * accum * cfg.optim.batch_size / len(train_pairs), 3),
                "loss": window_loss / window_steps,
                "lr": scheduler.get_last_lr()[0],
                "logit_scale": float(model.logit_scale.detach().exp()),
                "pairs_per_s": window_steps * accum * cfg.optim.batch_size / window_time,
            }
            result.update(record)
            if main:
                metrics.log(**record)
            accelerator.log({k: v for k, v in record.items() if k != "step"}, step=step)
            log.info(
                "step %d/%d loss %.4f lr %.2e T %.1f %.0f pairs/s",
                step,
                cfg.optim.max_steps,
                record["loss"],
                record["lr"],
                record["logit_scale"],
                record["pairs_per_s"],
            )
            window_loss, window_steps, window_time = 0.0, 0, 0.0
        val = {}
        if val_pairs is not None and (step % cfg.eval.every_steps == 0 or last):
            val = validate(model, val_pairs, cfg, accelerator)
            result.update(val)
            _report(step, val, metrics, accelerator)
            best = min(best, val.get("val_loss", math.inf))
        if step % cfg.checkpoint.every_steps == 0 or last:
            rngs = gather_object([rng_state()])
            if main:
                save_checkpoint(
                    run_dir,
                    step,
                    model,
                    optimizer,
                    scheduler,
                    rngs,
                    {"val_loss": val.get("val_loss"), "best_val_loss": None if best == math.inf else best},
                )
                prune_checkpoints(run_dir, cfg.checkpoint.keep_best)
            accelerator.wait_for_everyone()

    if main:
        merge_lora(model)
        model.save(run_dir / EXPORT)
        log.info("exported the final model to %s", run_dir / EXPORT)
    accelerator.wait_for_everyone()
    accelerator.end_training()
    return result
