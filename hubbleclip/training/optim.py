"""AdamW with decoupled weight decay on weight matrices only, and the warm-up schedules (one place for
both trainers)."""

from __future__ import annotations

import math

import torch
from torch import nn

from hubbleclip.errors import UserError
from hubbleclip.training.config import OptimSection


def build_optimizer(model: nn.Module, cfg: OptimSection) -> torch.optim.AdamW:
    decay, no_decay = [], []
    for _, p in model.named_parameters():
        if p.requires_grad:
            # biases, norms, temperature and bias scalars are not decayed (as in CLIP/open_clip)
            (decay if p.ndim >= 2 else no_decay).append(p)
    if not decay and not no_decay:
        raise UserError("nothing to train: every parameter is frozen (check the freeze section)")
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(
        [g for g in groups if g["params"]], lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), eps=cfg.eps
    )


def build_scheduler(optimizer, warmup_steps: int, schedule: str = "constant", max_steps: int = 0):
    """Linear warm-up, then constant or cosine to zero at ``max_steps``, in open_clip_train's
    convention: step ``s`` (from 0) of the warm-up runs at ``lr * (s + 1) / warmup_steps``, so no step
    is spent at lr 0 and the same settings give the same learning rates in both trainers."""
    if schedule == "cosine" and max_steps <= warmup_steps:
        raise UserError(
            f"optim.schedule=cosine needs max_steps > warmup_steps, got {max_steps} <= {warmup_steps}"
        )

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        if schedule == "cosine":
            return 0.5 * (1 + math.cos(math.pi * (step - warmup_steps) / (max_steps - warmup_steps)))
        return 1.0

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
