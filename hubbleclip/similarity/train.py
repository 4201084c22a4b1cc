"""Self-supervised training of a similarity encoder with accelerate: SimCLR's NT-Xent or
GalaxIDNet's margin-contrastive pair loss on two augmented views of each image.

The run directory is the shared skeleton's (:mod:`hubbleclip.training.session`): ``config.yaml``,
``metrics.jsonl`` (loss per step; validation loss and mini-search loose accuracy on two fixed
views of training images), ``checkpoints/``, and ``export/`` (the encoder, loadable as
``simclr:RUN_DIR``).  Global batches are split over the processes, and each example's views are
seeded by ``(seed, epoch, row)``, so a resumed run sees exactly the batches it would have seen.
"""

from __future__ import annotations

import logging
import math

import torch
from accelerate.utils import set_seed
from torch.utils.data import DataLoader

from hubbleclip.errors import UserError
from hubbleclip.metrics.similarity import loose_accuracy
from hubbleclip.similarity.config import SimCLRConfig
from hubbleclip.similarity.images import load_images
from hubbleclip.similarity.losses import margin_contrastive, nt_xent, pair_batch
from hubbleclip.similarity.ssl_models import SimCLRModel
from hubbleclip.training.data import BatchPlan, item_seed
from hubbleclip.training.optim import build_scheduler
from hubbleclip.training.session import TrainingSession, ValidationSums, make_accelerator

log = logging.getLogger(__name__)
VALIDATION_EPOCH = 2**31 - 1  # the fixed views of validation, apart from every training epoch's


class TwoViews:
    """``views[(epoch, row)]`` -> two augmented views of image ``row``, seeded by (seed, epoch, row)."""

    def __init__(self, images, transform, seed: int):
        self.images, self.transform, self.seed = images, transform, seed

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, key: tuple[int, int]):
        epoch, row = key
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(item_seed(self.seed, epoch, row))
            return self.transform(self.images[row]), self.transform(self.images[row])


def collate_views(items):
    first, second = zip(*items)
    return torch.stack(first), torch.stack(second)


def ssl_loss(cfg: SimCLRConfig, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
    if cfg.loss == "ntxent":
        return nt_xent(z1, z2, cfg.temperature)
    return margin_contrastive(*pair_batch(z1, z2), margin=cfg.margin)


@torch.no_grad()
def validate(model: SimCLRModel, views: TwoViews, cfg: SimCLRConfig, accelerator) -> dict[str, float]:
    """Loss and mini-search loose accuracy of two fixed views of the first ``eval.images`` images
    (the loss in batches of ``optim.batch_size`` images, sharded over processes)."""
    model.eval()
    n, bs = min(cfg.eval.images, len(views)), cfg.optim.batch_size
    pairs = [views[(VALIDATION_EPOCH, r)] for r in range(n)]
    sums = ValidationSums("loss", "batches")
    starts = list(range(0, n - 1, bs))  # a loss needs two images
    for b in starts[accelerator.process_index :: accelerator.num_processes]:
        v1, v2 = collate_views(pairs[b : b + bs])
        _, z1 = model(v1.to(accelerator.device))
        _, z2 = model(v2.to(accelerator.device))
        sums.add(loss=ssl_loss(cfg, z1, z2).item(), batches=1)
    total = sums.total(accelerator)
    a, b = collate_views(pairs)
    accuracy = loose_accuracy(
        model.encode_image(a.to(accelerator.device)).cpu().numpy(),
        model.encode_image(b.to(accelerator.device)).cpu().numpy(),
    )
    return {"val_loss": total["loss"] / max(total["batches"], 1), "loose_accuracy": accuracy}


def train_simclr(cfg: SimCLRConfig) -> dict:
    """Train (or resume) and export; returns the final metrics (first/last loss, loose accuracy)."""
    torch.set_num_threads(cfg.threads)
    accelerator = make_accelerator(cfg.out)
    run = TrainingSession(cfg, cfg.checkpoint, accelerator)
    images = load_images(
        cfg.data.path, splits=cfg.data.splits, sources=cfg.data.sources or None, limit=cfg.data.limit
    )
    if len(images) < 2:
        raise UserError(f"{cfg.data.path}: contrastive training needs at least 2 images, found {len(images)}")
    set_seed(cfg.seed)  # identical initial weights in every process
    model = SimCLRModel(cfg.model, cfg.augment).to(accelerator.device)
    views = TwoViews(images, model.image_transform(train=True), cfg.seed)
    world, rank = accelerator.num_processes, accelerator.process_index
    batch = min(cfg.optim.batch_size, len(images) - len(images) % world)
    per_epoch = len(images) // batch
    steps = cfg.optim.epochs * per_epoch
    steps = min(steps, cfg.optim.max_steps) if cfg.optim.max_steps else steps
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.optim.lr, weight_decay=cfg.optim.weight_decay)
    scheduler = build_scheduler(optimizer, cfg.optim.warmup_steps)
    ddp_model, optimizer = accelerator.prepare(model, optimizer)
    step = run.restore(model, optimizer, scheduler) if run.resume_from else 0
    log.info("SimCLR (%s loss): %d images, batch %d, %d steps", cfg.loss, len(images), batch, steps)
    plan = BatchPlan(len(images), batch, world, rank, cfg.seed, start=step, stop=steps)
    loader = DataLoader(views, batch_sampler=plan, collate_fn=collate_views)
    losses, val = [], {}
    for v1, v2 in loader:  # this process's share of global batches step+1, ..., steps
        model.train()
        _, z1 = ddp_model(v1.to(accelerator.device))
        _, z2 = ddp_model(v2.to(accelerator.device))
        loss = ssl_loss(cfg, z1, z2)
        optimizer.zero_grad()
        accelerator.backward(loss)
        optimizer.step()
        scheduler.step()
        step += 1
        losses.append(loss.item())
        run.log(step=step, epoch=(step - 1) // per_epoch, loss=losses[-1], lr=scheduler.get_last_lr()[0])
        if step % cfg.log_every == 0:
            log.info("step %d/%d loss %.4f", step, steps, losses[-1])
        last = step == steps
        val = validate(model, views, cfg, accelerator) if step % cfg.eval.every_steps == 0 or last else {}
        run.log_validation(step, val)
        if step % cfg.checkpoint.every_steps == 0 or last:
            run.save_checkpoint(step, model, optimizer, scheduler, val.get("val_loss"))
    summary = {
        "steps": step,
        "first_loss": losses[0] if losses else math.nan,
        "last_loss": losses[-1] if losses else math.nan,
        **val,
    }
    return summary | run.export(model, lambda m, path, _checkpoint: m.save(path), summary=summary)
