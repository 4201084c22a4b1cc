"""AdamW with decoupled weight decay on weight matrices only, and the warm-up schedules."""

from __future__ import annotations

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


def build_scheduler(optimizer, cfg: OptimSection):
    from transformers import get_constant_schedule_with_warmup, get_cosine_schedule_with_warmup

    if cfg.schedule == "cosine":
        return get_cosine_schedule_with_warmup(optimizer, cfg.warmup_steps, cfg.max_steps)
    return get_constant_schedule_with_warmup(optimizer, cfg.warmup_steps)
