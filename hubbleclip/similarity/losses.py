"""Self-supervised losses: SimCLR's NT-Xent and GalaxIDNet's margin-contrastive pair loss."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    """SimCLR's normalised temperature-scaled cross entropy over 2B views: each view's positive
    is the other view of its image, the other 2B-2 views are negatives."""
    z = F.normalize(torch.cat([z1, z2]), dim=-1)
    logits = z @ z.T / temperature
    n = z1.shape[0]
    logits.fill_diagonal_(float("-inf"))
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(n)]).to(z.device)
    return F.cross_entropy(logits, target)


def margin_contrastive(
    a: torch.Tensor, b: torch.Tensor, same: torch.Tensor, margin: float = 1.0
) -> torch.Tensor:
    """GalaxIDNet's pair loss on normalised embeddings: y·d² + (1-y)·max(0, m-d)²."""
    d = (F.normalize(a, dim=-1) - F.normalize(b, dim=-1)).norm(dim=-1)
    same = same.float()
    return (same * d.pow(2) + (1 - same) * F.relu(margin - d).pow(2)).mean()


def pair_batch(z1: torch.Tensor, z2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Positive pairs (two views of one image) and as many negatives (views of the next image)."""
    a = torch.cat([z1, z1])
    b = torch.cat([z2, z2.roll(1, dims=0)])
    same = torch.cat([torch.ones(len(z1)), torch.zeros(len(z1))]).to(z1.device)
    return a, b, same
