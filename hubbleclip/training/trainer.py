"""The contrastive training loop, under Hugging Face Accelerate.

The same code runs as ``python training/train.py`` (one process) and under
``accelerate launch --multi_gpu --num_processes N training/train.py`` (gloo on CPU, NCCL on GPUs,
bf16/fp16).  A global batch of ``optim.batch_size`` pairs is split evenly over the processes and
the loss is the global batch's (see :mod:`hubbleclip.training.losses`), so N processes follow the
same trajectory as one, except where a trained tower has BatchNorm: its batch statistics are
per process, as in plain DDP.  Run directory, resume, checkpoints and export are the shared
skeleton's (:mod:`hubbleclip.training.session`).
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from pathlib import Path

import numpy as np
import torch
from accelerate.utils import gather_object, set_seed
from torch.utils.data import DataLoader

from hubbleclip.data.load import caption_column, encoded_images
from hubbleclip.data.shards import shards_to_dataset
from hubbleclip.errors import UserError
from hubbleclip.metrics import own_partner_ranks
from hubbleclip.models import load_model
from hubbleclip.models.base import ClipModel
from hubbleclip.models.feature_cache import FeatureCache, feature_cache, image_features, text_features
from hubbleclip.training.config import TrainConfig
from hubbleclip.training.data import BatchPlan, PairDataset, collate, imaged_split
from hubbleclip.training.freeze import (
    TOWERS,
    configure_trainable,
    merge_lora,
    parameter_counts,
    set_train_modes,
    tower_is_static,
)
from hubbleclip.training.losses import contrastive_loss, in_batch_hit_counts
from hubbleclip.training.model_card import write_card
from hubbleclip.training.optim import build_optimizer, build_scheduler
from hubbleclip.training.session import TrainingSession, ValidationSums, make_accelerator
from hubbleclip.training.shards import ShardBatches

log = logging.getLogger(__name__)


def pair_dataset(
    cfg: TrainConfig, model: ClipModel, ds, train: bool, cache: FeatureCache, accelerator
) -> PairDataset:
    """The image-text pairs of ``ds``, with the locked towers' features from the feature cache."""
    column = caption_column(ds.column_names, cfg.data.captions)
    captions = ds[column] if column else None
    image_feats = text_feats = None
    if cfg.freeze.cache_features:
        # the main process computes what is missing, the others then read it from the cache
        with accelerator.main_process_first():
            if tower_is_static(cfg.freeze, "image"):
                eval_tf = model.image_transform(train=False, augment=cfg.augment)
                image_feats = image_features(model, encoded_images(ds), cache, transform=eval_tf)
            if tower_is_static(cfg.freeze, "text") and captions is not None:
                text_feats = text_features(model, captions, cache)
    if train and image_feats is not None:
        log.info("image tower locked and cached: training images are seen without train augmentations")
    return PairDataset(
        ds,
        captions,
        None if column else ds["text"],
        model.image_transform(train=train, augment=cfg.augment),
        cfg.seed,
        cfg.data.chunk_words,
        image_feats,
        text_feats,
    )


def forward_inputs(images, texts, model: ClipModel, device) -> dict:
    """Keyword arguments of ClipModel.forward for one collated batch (pixels or cached features)."""
    out = {"image_feats" if images.ndim == 2 else "images": images.to(device)}
    if isinstance(texts, torch.Tensor):
        out["text_feats"] = texts.to(device)
    else:
        out["tokens"] = {k: v.to(device) for k, v in model.tokenize(texts).items()}
    return out


@torch.no_grad()
def own_partner_t2i_hits(img: torch.Tensor, txt: torch.Tensor, k: int) -> int:
    """Texts of one batch whose own image ranks within the top ``k`` of the batch's images: PAPERCLIP's
    training-time metric, which counts only the partner (an identical caption of another image does
    not match).  Scores in float64, so equal embeddings tie exactly, and a tie counts against the text."""
    sims = (txt.double() @ img.double().T).cpu().numpy()
    return int((own_partner_ranks(sims, np.arange(len(sims))) <= k).sum())


@torch.no_grad()
def validate(model: ClipModel, pairs: PairDataset, cfg: TrainConfig, accelerator) -> dict[str, float]:
    """Mean loss and in-batch top-1/top-k retrieval over fixed validation batches (sharded over
    processes), and the paper's own-partner text->image top-k over the full batches only
    (``val_pair_*``: top-10 of 100 with PAPERCLIP's settings; absent when no batch is full)."""
    bs, n, k = cfg.eval.batch_size, len(pairs), cfg.eval.top_k
    starts = list(range(0, n - bs + 1, bs)) or ([0] if n >= 2 else [])  # full batches, or one short one
    model.eval()
    sums = ValidationSums(
        "loss", "batches", "pairs", "i2t_top1", f"i2t_top{k}", f"t2i_top{k}", "pair_t2i", "pair_batches"
    )
    for b in starts[accelerator.process_index :: accelerator.num_processes]:
        images, texts, captions = collate([pairs[(0, r)] for r in range(b, min(b + bs, n))])
        img, txt = model(**forward_inputs(images, texts, model, model.device))
        loss = contrastive_loss(cfg.loss.kind, img, txt, model.logit_scale, model.logit_bias)
        hits = in_batch_hit_counts(img.float(), txt.float(), captions, k)
        full = len(captions) == bs
        sums.add(
            loss=loss.item(),
            batches=1,
            pairs=len(captions),
            pair_t2i=own_partner_t2i_hits(img, txt, k) if full else 0,
            pair_batches=int(full),
            **{name: hits[name] for name in sums.sums if name in hits},
        )
    total = sums.total(accelerator)
    if not total["batches"]:
        return {}
    out = {
        "val_loss": total["loss"] / total["batches"],
        "val_i2t_top1": total["i2t_top1"] / total["pairs"],
        f"val_i2t_top{k}": total[f"i2t_top{k}"] / total["pairs"],
        f"val_t2i_top{k}": total[f"t2i_top{k}"] / total["pairs"],
        "val_pairs": int(total["pairs"]),
    }
    if total["pair_batches"]:
        out |= {
            f"val_pair_t2i_top{k}": total["pair_t2i"] / (total["pair_batches"] * bs),
            "val_pair_batches": int(total["pair_batches"]),
            "val_pair_batch_size": bs,
            "val_pair_chance": min(k, bs) / bs,
        }
    return out


def _setup_model(cfg: TrainConfig, device) -> ClipModel:
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
    return model.to(device)


def _optimizer_step(cfg: TrainConfig, model, ddp_model, batches, optimizer, scheduler, accelerator) -> float:
    """One optimizer step over ``grad_accum_steps`` contrastive batches; returns its mean loss."""
    world, accum = accelerator.num_processes, cfg.optim.grad_accum_steps
    set_train_modes(model, cfg.freeze)
    step_loss = 0.0
    for micro in range(accum):
        images, texts, _ = next(batches)
        sync = micro == accum - 1
        with accelerator.no_sync(ddp_model) if not sync else contextlib.nullcontext(), accelerator.autocast():
            img, txt = ddp_model(**forward_inputs(images, texts, model, accelerator.device))
            loss = contrastive_loss(cfg.loss.kind, img, txt, model.logit_scale, model.logit_bias, accelerator)
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
    return step_loss


class LossWindow:
    """Training loss and throughput since the last log line (validation and checkpoints not timed)."""

    def __init__(self):
        self.loss, self.steps, self.seconds, self.lr = 0.0, 0, 0.0, 0.0

    def add(self, loss: float, seconds: float, lr: float) -> None:
        """``lr``: the learning rate the step trained with (as open_clip_train logs it)."""
        self.loss, self.steps, self.seconds = self.loss + loss, self.steps + 1, self.seconds + seconds
        self.lr = lr

    def record(self, cfg: TrainConfig, step: int, n_pairs: int, model) -> dict:
        pairs = cfg.optim.grad_accum_steps * cfg.optim.batch_size
        record = {
            "step": step,
            "epoch": round(step * pairs / n_pairs, 3),
            "loss": self.loss / self.steps,
            "lr": self.lr,
            "logit_scale": float(model.logit_scale.detach().exp()),
            "pairs_per_s": self.steps * pairs / self.seconds,
        }
        self.__init__()
        log.info(
            "step %d/%d loss %.4f lr %.2e T %.1f %.0f pairs/s",
            step,
            cfg.optim.max_steps,
            record["loss"],
            record["lr"],
            record["logit_scale"],
            record["pairs_per_s"],
        )
        return record


def _pair_datasets(
    cfg: TrainConfig, model: ClipModel, accelerator
) -> tuple[PairDataset | None, PairDataset | None]:
    """Training pairs of a saved dataset (None when training reads shards), and validation pairs."""
    data = cfg.data
    if data.webdataset and data.max_train_rows:
        raise UserError("data.max_train_rows applies to data.path, not to data.webdataset shards")
    cache = feature_cache(cfg.freeze.cache_dir)
    train_pairs = val_pairs = None
    if not data.webdataset:
        train_ds = imaged_split(data.path, data.train_split, data.max_train_rows)
        train_pairs = pair_dataset(cfg, model, train_ds, True, cache, accelerator)
    elif any(tower_is_static(cfg.freeze, t) for t in TOWERS) and cfg.freeze.cache_features:
        log.info("webdataset input: locked towers run every step (the feature cache serves saved datasets)")
    if data.val_webdataset:
        val_pairs = pair_dataset(
            cfg, model, shards_to_dataset(data.val_webdataset), False, cache, accelerator
        )
    elif data.val_split and not data.webdataset:
        val_ds = imaged_split(data.path, data.val_split)
        val_pairs = pair_dataset(cfg, model, val_ds, False, cache, accelerator)
    return train_pairs, val_pairs


def _lazily(loader):
    """Iterate ``loader`` from the first ``next()`` on: its iterator draws its seed from torch's RNG
    then, after the run has seeded it."""
    yield from loader


def _training_batches(cfg: TrainConfig, model, train_pairs, accelerator, run: TrainingSession, step: int):
    """The run's contrastive batches from optimizer step ``step`` on, and how many pairs an epoch has."""
    accum, world, rank = cfg.optim.grad_accum_steps, accelerator.num_processes, accelerator.process_index
    start, stop = step * accum, cfg.optim.max_steps * accum
    if train_pairs is not None:
        plan = BatchPlan(
            len(train_pairs), cfg.optim.batch_size, world, rank, cfg.seed, start=start, stop=stop
        )
        loader = DataLoader(
            train_pairs, batch_sampler=plan, collate_fn=collate, num_workers=cfg.data.num_workers
        )
        return _lazily(loader), len(train_pairs)
    if cfg.optim.batch_size % world:
        raise UserError(f"optim.batch_size={cfg.optim.batch_size} must be divisible by the {world} processes")
    shards = ShardBatches(cfg, model.image_transform(train=True, augment=cfg.augment), world, rank)

    def log_epoch(epoch: int, index: int, read: list[str], samples: int) -> None:
        per_process = gather_object([(read, samples)])  # every process calls this at the same batch
        run.log(
            step=-(-index // accum),
            event="webdataset_epoch",
            epoch=epoch,
            shards_per_process=[[Path(u).name for u in r] for r, _ in per_process],
            samples_per_process=[n for _, n in per_process],
        )

    return shards.batches(start, stop, log_epoch), shards.n_samples


def _log_start(run: TrainingSession, model, n_pairs: int, val_pairs, cfg: TrainConfig, accelerator) -> None:
    n_train, n_total = parameter_counts(model)
    run.log(
        step=0,
        event="start",
        trainable_params=n_train,
        total_params=n_total,
        processes=accelerator.num_processes,
        train_pairs=n_pairs,
        val_pairs=len(val_pairs) if val_pairs else 0,
    )
    if val_pairs is not None:  # the starting point, to compare the fine-tuned numbers with
        run.log_validation(0, validate(model, val_pairs, cfg, accelerator))


def _exporter(cfg: TrainConfig):
    """Save the model and its card together: the export appears complete or not at all."""

    def export(model: ClipModel, path, checkpoint: str | None) -> None:
        merge_lora(model)
        model.save(
            path, also=lambda tmp: write_card(cfg, cfg.out, export=tmp, exported_checkpoint=checkpoint)
        )

    return export


def train(cfg: TrainConfig) -> dict:
    """Run (or resume) one training job; returns the final metrics and what was exported."""
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    accelerator = make_accelerator(cfg.out, cfg.optim.mixed_precision)
    run = TrainingSession(cfg, cfg.checkpoint, accelerator)
    model = _setup_model(cfg, accelerator.device)
    train_pairs, val_pairs = _pair_datasets(cfg, model, accelerator)
    optimizer = build_optimizer(model, cfg.optim)
    scheduler = build_scheduler(optimizer, cfg.optim.warmup_steps, cfg.optim.schedule, cfg.optim.max_steps)
    ddp_model, optimizer = accelerator.prepare(model, optimizer)
    step = run.restore(model, optimizer, scheduler) if run.resume_from else 0
    batches, n_train = _training_batches(cfg, model, train_pairs, accelerator, run, step)
    if not run.resume_from:
        set_seed(cfg.seed + accelerator.process_index)  # distinct dropout per process
        _log_start(run, model, n_train, val_pairs, cfg, accelerator)
    max_steps = cfg.optim.max_steps
    window, result = LossWindow(), {}
    while step < max_steps:
        t0, lr = time.perf_counter(), scheduler.get_last_lr()[0]
        loss = _optimizer_step(cfg, model, ddp_model, batches, optimizer, scheduler, accelerator)
        window.add(loss, time.perf_counter() - t0, lr)
        step += 1
        last = step == max_steps
        if step % cfg.log_every == 0 or last:
            record = window.record(cfg, step, n_train, model)
            result.update(record)
            run.log(**record)
        val = {}
        if val_pairs is not None and (step % cfg.eval.every_steps == 0 or last):
            val = validate(model, val_pairs, cfg, accelerator)
            result.update(val)
            run.log_validation(step, val)
        if step % cfg.checkpoint.every_steps == 0 or last:
            run.save_checkpoint(step, model, optimizer, scheduler, val.get("val_loss"))
    exported = run.export(model, _exporter(cfg), summary={"step": step, "event": "export"})
    return result | exported
