"""Training throughput: our Accelerate trainer against a minimal plain-PyTorch loop.

Both run the same model, freezing, batch, augmentation and loss on the same rows, each in its
own fresh process (so peak memory is per loop); the first ``warmup`` steps are not timed.
"""

from __future__ import annotations

import resource
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

from hubbleclip.config import load_config
from hubbleclip.data.load import caption_column, load_dataset_dict
from hubbleclip.models import load_model
from hubbleclip.runs import MetricsLog
from hubbleclip.training.config import TrainConfig
from hubbleclip.training.data import imaged_split
from hubbleclip.training.freeze import configure_trainable, set_train_modes
from hubbleclip.training.losses import infonce_loss
from hubbleclip.training.trainer import train


def bench_config(spec: str, data: str, batch_size: int, steps: int, run_dir: str) -> TrainConfig:
    """lit-mini fine-tuning without a feature cache: locked image tower run every step, text tower trained."""
    return load_config(
        TrainConfig,
        None,
        {
            "out": run_dir,
            "model.spec": spec,
            "data.path": data,
            "data.val_split": "",
            "data.max_train_rows": batch_size * steps,
            "freeze.lock_image": True,
            "freeze.cache_features": False,
            "optim.batch_size": batch_size,
            "optim.max_steps": steps,
            "optim.lr": 1e-5,
            "log_every": 1,
            "checkpoint.every_steps": steps,
            "threads": 0,
        },
    )


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def plain_loop(cfg: TrainConfig, warmup: int) -> dict:
    """The baseline: DataLoader -> forward -> InfoNCE -> backward -> AdamW, nothing else."""
    import torch
    from torch.utils.data import DataLoader

    torch.manual_seed(cfg.seed)
    model = load_model(cfg.model.spec)
    configure_trainable(model, cfg.freeze, train_bias=False)
    ds = imaged_split(cfg.data.path, cfg.data.train_split, cfg.data.max_train_rows)
    transform = model.image_transform(train=True, augment=cfg.augment)
    pairs = list(enumerate(ds[caption_column(ds.column_names, cfg.data.captions)]))
    images = ds.select_columns(["image"])

    def collate(batch):
        return torch.stack([transform(images[i]["image"]) for i, _ in batch]), [c for _, c in batch]

    loader = DataLoader(pairs, batch_size=cfg.optim.batch_size, collate_fn=collate, drop_last=True)
    opt = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad],
        lr=cfg.optim.lr,
        weight_decay=cfg.optim.weight_decay,
    )
    times = []
    batches = iter(loader)
    for _ in range(len(loader)):
        t0 = time.perf_counter()  # loading and augmenting the batch counts, as it does in ours
        pixels, captions = next(batches)
        set_train_modes(model, cfg.freeze)
        img, txt = model(images=pixels, tokens=model.tokenize(captions))
        loss = infonce_loss(img, txt, model.logit_scale)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(
            [p for p in model.parameters() if p.requires_grad], cfg.optim.max_grad_norm
        )
        opt.step()
        opt.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - t0)
    timed = times[warmup:]
    return {
        "pairs_per_s": cfg.optim.batch_size * len(timed) / sum(timed),
        "steps": len(timed),
        "peak_rss_mb": _peak_rss_mb(),
    }


def our_loop(cfg: TrainConfig, warmup: int) -> dict:
    train(cfg)
    rows = MetricsLog(Path(cfg.out) / "metrics.jsonl").read()
    per_step = [r["pairs_per_s"] for r in rows if "pairs_per_s" in r][warmup:]
    step_times = [cfg.optim.batch_size / p for p in per_step]
    return {
        "pairs_per_s": cfg.optim.batch_size * len(step_times) / sum(step_times),
        "steps": len(step_times),
        "peak_rss_mb": _peak_rss_mb(),
    }


def run_bench(
    spec: str = "lit-mini", data: str = "data/skyset", batch_size: int = 32, steps: int = 6, warmup: int = 1
) -> dict:
    """Time both loops (each in a fresh process); ``ratio`` = ours / plain pairs per second."""
    load_dataset_dict(data)  # a clear error before starting processes
    out = {"spec": spec, "batch_size": batch_size, "timed_steps": steps - warmup}
    with tempfile.TemporaryDirectory() as tmp:
        cfg = bench_config(spec, data, batch_size, steps, str(Path(tmp) / "run"))
        for name, fn in (("plain", plain_loop), ("ours", our_loop)):
            with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
                out[name] = pool.submit(fn, cfg, warmup).result()
    out["ratio"] = out["ours"]["pairs_per_s"] / out["plain"]["pairs_per_s"]
    return out
