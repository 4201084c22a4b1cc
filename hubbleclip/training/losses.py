"""Contrastive losses over features gathered from all processes.

Every process gathers all image and text features, puts its own shard back with its autograd
graph (so gradient flows through the local shard only, as in open_clip) and computes the loss of
the *global* batch.  Backpropagating ``world_size * loss`` then makes DDP's gradient average equal
to the single-process gradient of the same global batch.  The temperature and bias are shared by
every shard, so their gradient is already complete on each process: :func:`shared_scalar`
scales it by 1/world_size to keep it right after that same factor.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def gather_with_local_grad(x: torch.Tensor, accelerator) -> torch.Tensor:
    """Concatenate ``x`` from every process (rank order); only the local shard carries gradient."""
    world = accelerator.num_processes
    if world == 1:
        return x
    chunks = list(accelerator.gather(x.detach().contiguous()).chunk(world))
    chunks[accelerator.process_index] = x
    return torch.cat(chunks)


def shared_scalar(p: torch.Tensor, world: int) -> torch.Tensor:
    """Same value, gradient divided by ``world`` (see the module docstring)."""
    return p if world == 1 else p.detach() + (p - p.detach()) / world


def infonce_loss(img: torch.Tensor, txt: torch.Tensor, logit_scale: torch.Tensor) -> torch.Tensor:
    """Symmetric softmax cross-entropy over ``exp(logit_scale) * img @ txt.T`` (pair i <-> i)."""
    logits = logit_scale.exp() * img @ txt.T
    labels = torch.arange(len(img), device=img.device)
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2


def siglip_loss(
    img: torch.Tensor, txt: torch.Tensor, logit_scale: torch.Tensor, logit_bias: torch.Tensor
) -> torch.Tensor:
    """SigLIP: every (image, text) cell is a binary match/no-match decision;
    summed, divided by the batch size."""
    logits = logit_scale.exp() * img @ txt.T + logit_bias
    signs = 2 * torch.eye(len(img), device=img.device, dtype=logits.dtype) - 1
    return -F.logsigmoid(signs * logits).sum() / len(img)


def contrastive_loss(kind: str, img, txt, logit_scale, logit_bias, accelerator=None) -> torch.Tensor:
    """Loss of the global batch from this process's normalised features (see the module docstring);
    without an ``accelerator``, the loss of this batch alone (validation)."""
    world = accelerator.num_processes if accelerator is not None else 1
    img, txt = img.float(), txt.float()
    if world > 1:
        img, txt = gather_with_local_grad(img, accelerator), gather_with_local_grad(txt, accelerator)
    scale = shared_scalar(logit_scale, world)
    if kind == "siglip":
        return siglip_loss(img, txt, scale, shared_scalar(logit_bias, world))
    return infonce_loss(img, txt, scale)


@torch.no_grad()
def in_batch_hit_counts(
    img: torch.Tensor, txt: torch.Tensor, captions: list[str], k: int
) -> dict[str, float]:
    """Within one batch: how many images (texts) rank their own caption (an image with it) within
    the top 1 and the top k.  (The evaluation's :func:`hubbleclip.metrics.in_batch_hits` gives the
    same count over random full batches of 100 of a whole split.)

    Several images can share a caption (e.g. one FIRST class): any of them counts as a match.
    """
    ids = {c: i for i, c in enumerate(dict.fromkeys(captions))}
    cid = torch.tensor([ids[c] for c in captions], device=img.device)
    same = cid[:, None] == cid[None, :]
    sims = img @ txt.T
    out = {}
    for name, s in (("i2t", sims), ("t2i", sims.T)):
        order = s.argsort(dim=1, descending=True)
        hit = torch.gather(same, 1, order)
        out[f"{name}_top1"] = float(hit[:, 0].sum())
        out[f"{name}_top{k}"] = float(hit[:, :k].any(dim=1).sum())
    return out
