"""Self-supervised training of a similarity encoder with accelerate: SimCLR's NT-Xent or
GalaxIDNet's margin-contrastive pair loss on two augmented views of each image.

The run directory gets ``config.yaml``, ``metrics.jsonl`` (loss per step, mini-search loose
accuracy per epoch), ``checkpoint/`` (accelerate state, resumable) and ``export/`` (the encoder,
loadable as ``simclr:RUN_DIR``).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

from hubbleclip.errors import UserError
from hubbleclip.similarity.ssl_models import EncoderConfig
from hubbleclip.transforms import AugmentConfig

log = logging.getLogger(__name__)


def _alma_augment() -> AugmentConfig:
    return AugmentConfig(
        rotate_degrees=180, shear_degrees=10, scale_min=0.4, scale_max=2.0, crop_scale_min=0.6
    )


@dataclass
class DataConfig:
    path: str = field(
        default="data/skyset", metadata={"help": "saved dataset, .zip of images or image folder"}
    )
    splits: list[str] = field(
        default_factory=lambda: ["train"], metadata={"help": "dataset splits to train on"}
    )
    sources: list[str] = field(
        default_factory=list, metadata={"help": "only these sources (e.g. first); empty = all"}
    )
    limit: int = field(default=0, metadata={"help": "use at most this many images (0 = all)"})


@dataclass
class OptimConfig:
    lr: float = field(default=1e-3, metadata={"help": "AdamW learning rate"})
    weight_decay: float = field(default=1e-4, metadata={"help": "AdamW weight decay"})
    batch_size: int = field(default=128, metadata={"help": "images per step (2 views each)"})
    epochs: int = field(default=10, metadata={"help": "passes over the images"})
    max_steps: int = field(default=0, metadata={"help": "stop after this many steps (0 = no limit)"})
    warmup_steps: int = field(default=10, metadata={"help": "linear warm-up steps"})


@dataclass
class SimCLRConfig:
    """Self-supervised image encoder training: SimCLR NT-Xent or GalaxIDNet's pair loss."""

    run_dir: str = field(default="runs/simclr", metadata={"help": "output directory"})
    loss: str = field(
        default="ntxent", metadata={"help": "ntxent (SimCLR) or pair (GalaxIDNet margin contrastive)"}
    )
    temperature: float = field(default=0.1, metadata={"help": "NT-Xent temperature"})
    margin: float = field(default=1.0, metadata={"help": "pair-loss margin m"})
    seed: int = field(default=0, metadata={"help": "random seed"})
    threads: int = field(default=2, metadata={"help": "torch CPU threads"})
    log_every: int = field(default=10, metadata={"help": "log the loss every N steps"})
    checkpoint_epochs: int = field(default=1, metadata={"help": "save a resumable checkpoint every N epochs"})
    data: DataConfig = field(default_factory=DataConfig)
    model: EncoderConfig = field(default_factory=EncoderConfig)
    augment: AugmentConfig = field(default_factory=_alma_augment)
    optim: OptimConfig = field(default_factory=OptimConfig)


class TwoViews:
    """A dataset of two independently augmented views of each image."""

    def __init__(self, images, transform):
        self.images, self.transform = images, transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i):
        return self.transform(self.images[i]), self.transform(self.images[i])


def train_simclr(cfg: SimCLRConfig) -> dict:
    """Train and export; returns the final metrics (first/last loss, loose accuracy)."""
    import torch
    from accelerate import Accelerator
    from accelerate.utils import set_seed

    from hubbleclip.io import MetricsLog, atomic_directory, setup_run_dir
    from hubbleclip.similarity.images import load_images
    from hubbleclip.similarity.losses import loose_accuracy, margin_contrastive, nt_xent, pair_batch
    from hubbleclip.similarity.ssl_models import SimCLRModel

    if cfg.loss not in ("ntxent", "pair"):
        raise UserError(f"loss: expected ntxent or pair, got {cfg.loss!r}")
    torch.set_num_threads(cfg.threads)
    logging.getLogger("accelerate").setLevel(logging.WARNING)  # one INFO line per saved file otherwise
    set_seed(cfg.seed)
    run_dir = setup_run_dir(cfg.run_dir, cfg)
    metrics = MetricsLog(run_dir / "metrics.jsonl")
    images = load_images(
        cfg.data.path, splits=cfg.data.splits, sources=cfg.data.sources or None, limit=cfg.data.limit
    )
    if len(images) < 2:
        raise UserError(f"{cfg.data.path}: contrastive training needs at least 2 images, found {len(images)}")
    model = SimCLRModel(cfg.model, cfg.augment)
    data = TwoViews(images, model.image_transform(train=True))
    batch = min(cfg.optim.batch_size, len(images))
    loader = torch.utils.data.DataLoader(data, batch_size=batch, shuffle=True, drop_last=True)
    steps = cfg.optim.epochs * len(loader)
    steps = min(steps, cfg.optim.max_steps) if cfg.optim.max_steps else steps
    optim = torch.optim.AdamW(model.parameters(), lr=cfg.optim.lr, weight_decay=cfg.optim.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(
        optim, lambda s: min(1.0, (s + 1) / max(1, cfg.optim.warmup_steps))
    )
    accel = Accelerator()
    model, optim, loader, sched = accel.prepare(model, optim, loader, sched)
    ckpt = run_dir / "checkpoint"
    step = 0
    if (ckpt / "step.txt").is_file():
        accel.load_state(str(ckpt))
        step = int((ckpt / "step.txt").read_text())
        log.info("resumed from %s at step %d", ckpt, step)
    log.info("SimCLR (%s loss): %d images, batch %d, %d steps", cfg.loss, len(images), batch, steps)
    losses = []
    epoch = step // len(loader)
    while step < steps:
        model.train()
        for v1, v2 in loader:
            _, z1 = model(v1)
            _, z2 = model(v2)
            loss = (
                nt_xent(z1, z2, cfg.temperature)
                if cfg.loss == "ntxent"
                else margin_contrastive(*pair_batch(z1, z2), margin=cfg.margin)
            )
            optim.zero_grad()
            accel.backward(loss)
            optim.step()
            sched.step()
            step += 1
            losses.append(loss.item())
            metrics.log(step=step, epoch=epoch, loss=losses[-1], lr=sched.get_last_lr()[0])
            if step % cfg.log_every == 0:
                log.info("step %d/%d loss %.4f", step, steps, losses[-1])
            if step >= steps:
                break
        epoch += 1
        acc = _loose_accuracy(accel.unwrap_model(model), data, loose_accuracy)
        metrics.log(step=step, epoch=epoch, loose_accuracy=acc)
        if epoch % cfg.checkpoint_epochs == 0 or step >= steps:
            with atomic_directory(ckpt, overwrite=True) as tmp:
                accel.save_state(str(tmp))
                (tmp / "step.txt").write_text(str(step))
    export = accel.unwrap_model(model).save(run_dir / "export")
    result = {
        "steps": step,
        "first_loss": losses[0] if losses else math.nan,
        "last_loss": losses[-1] if losses else math.nan,
        "export": str(export),
    }
    metrics.log(**result)
    return result


def _loose_accuracy(model, data: TwoViews, metric, limit: int = 500) -> float:
    """Mini-search loose accuracy of the backbone on two fresh views of up to ``limit`` images."""
    import torch

    model.eval()
    with torch.no_grad():
        pairs = [data[i] for i in range(min(limit, len(data)))]
        a = model.encode_image(torch.stack([p[0] for p in pairs]))
        b = model.encode_image(torch.stack([p[1] for p in pairs]))
    return metric(a, b)
