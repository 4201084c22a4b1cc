"""The same training work in ``python -m open_clip_train.main`` and in ``hubbleclip train``.

Both processes get the same architecture (an open_clip name such as ``ViT-B-32``) from the same
initial weights (one random init saved to a file that both load as their checkpoint), the same
images and captions (a saved dataset for us, its CSV export for open_clip_train), batch size,
AdamW settings, warm-up, gradient clipping, precision and number of steps, each in its own fresh
process (peak RSS per process, from ``wait4``).

Equal data order: the training set is exactly one batch, so every step of both trainers trains on
all of it, and the InfoNCE loss does not depend on the order within a batch.  Augmentations are
off in both: the images are stored pre-resized to the model's input size, open_clip_train's
random resized crop is set to ``scale=(1, 1)`` (which then crops the whole square image), and ours
has no flips or rotations; :func:`transform_gap` checks that both turn an image into the same
tensor.  Throughput is each trainer's own per-step timing (data loading included), the first
``skip`` steps left out.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import datasets
import numpy as np
import torch
from PIL import Image

from hubbleclip.config import load_config
from hubbleclip.data.config import ExportConfig
from hubbleclip.data.export import export_dataset
from hubbleclip.models import load_model
from hubbleclip.runs import MetricsLog
from hubbleclip.training.checkpoint import list_checkpoints
from hubbleclip.training.config import TrainConfig
from hubbleclip.training.data import imaged_split
from hubbleclip.training.lora_export import plain_open_clip_gap
from hubbleclip.transforms import PadToSquare

# open_clip_train's log line per step (train.py: "Train Epoch: ... LR: ... Contrastive_loss: VAL (AVG)")
_OPEN_CLIP_STEP = re.compile(
    r"Batch \(t\): [\d.]+, ([\d.]+)/s.*?LR: ([\d.e-]+) .*?Contrastive_loss: ([\d.e+-]+) "
)


# open_clip_train logs the loss to 5 significant digits (~1e-4 at the losses of a few pairs)
LOSS_TOLERANCE = 2e-4


@dataclass
class ParitySettings:
    arch: str = "ViT-B-32"
    batch_size: int = 8
    steps: int = 6
    skip: int = 2  # first steps not timed (lazy initialisation)
    lr: float = 1e-5
    weight_decay: float = 0.2
    warmup: int = 2
    grad_clip: float = 1.0
    precision: str = "fp32"  # open_clip_train --precision; ours: fp32 -> no, amp_bf16 -> bf16
    workers: int = 0
    threads: int = 0  # 0 = torch's default in both
    seed: int = 0


def prepare_data(source: str, out: Path, n: int, size: int) -> tuple[Path, Path]:
    """The first ``n`` imaged train rows of ``source`` with images padded and resized to ``size``:
    a saved dataset (ours) and its CSV export (open_clip_train)."""

    def resize(row):
        row["image"] = PadToSquare(0)(row["image"].convert("RGB")).resize((size, size), Image.BICUBIC)
        return row

    rows = imaged_split(source, "train", n)
    if len(rows) < n:
        raise ValueError(f"{source}: {len(rows)} imaged train rows, the bench needs {n}")
    dataset = out / "dataset"
    datasets.DatasetDict({"train": rows.map(resize)}).save_to_disk(str(dataset))
    export_dataset(ExportConfig(dataset=str(dataset), out=str(out / "csv"), format="csv", splits=["train"]))
    return dataset, out / "csv" / "train.csv"


def save_init(arch: str, path: Path, seed: int) -> None:
    """One random initialisation of ``arch``, the checkpoint both trainers start from."""
    import open_clip

    torch.manual_seed(seed)
    torch.save(open_clip.create_model(arch).state_dict(), path)


def transform_gap(dataset: Path, arch: str, init: Path) -> float:
    """Largest difference between the two trainers' training transforms on the bench images."""
    import open_clip

    ours = load_model(f"open_clip:{arch}@{init}")
    cfg = load_config(TrainConfig, None, {"augment.rot90": False, "augment.flips": False})
    mine = ours.image_transform(train=True, augment=cfg.augment)
    theirs = open_clip.image_transform(
        ours.image_size,
        is_train=True,
        mean=ours.image_mean,
        std=ours.image_std,
        aug_cfg={"scale": (1.0, 1.0)},
    )
    images = datasets.load_from_disk(str(dataset))["train"]["image"]
    return max(float((mine(img) - theirs(img)).abs().max()) for img in images)


def open_clip_command(s: ParitySettings, csv: Path, init: Path, logs: Path) -> list[str]:
    return [
        sys.executable, "-m", "open_clip_train.main",
        "--model", s.arch, "--pretrained", str(init),
        "--train-data", str(csv), "--dataset-type", "csv", "--csv-separator", "\t",
        "--csv-img-key", "filepath", "--csv-caption-key", "title",
        "--batch-size", str(s.batch_size), "--epochs", str(s.steps),  # one step per epoch
        "--lr", str(s.lr), "--wd", str(s.weight_decay), "--beta1", "0.9", "--beta2", "0.98", "--eps", "1e-6",
        "--warmup", str(s.warmup), "--lr-scheduler", "const", "--grad-clip-norm", str(s.grad_clip),
        "--precision", s.precision, "--workers", str(s.workers), "--seed", str(s.seed),
        "--aug-cfg", "scale=(1.0, 1.0)", "--log-every-n-steps", "1", "--zeroshot-frequency", "0",
        "--save-frequency", "0", "--logs", str(logs), "--name", "parity",
    ]  # fmt: skip


def our_command(s: ParitySettings, dataset: Path, init: Path, run_dir: Path, lora: bool = False) -> list[str]:
    mixed = {"fp32": "no", "amp_bf16": "bf16", "amp": "fp16"}[s.precision]
    extra = ["--freeze.lora_image", "true", "--freeze.lora_text", "true"] if lora else []
    return [
        sys.executable, "-c", "import sys; from hubbleclip.cli import main; sys.exit(main())", "train",
        "--out", str(run_dir), "--model.spec", f"open_clip:{s.arch}@{init}",
        "--data.path", str(dataset), "--data.val_split", "", "--data.num_workers", str(s.workers),
        "--augment.rot90", "false", "--augment.flips", "false",
        "--optim.batch_size", str(s.batch_size), "--optim.max_steps", str(s.steps),
        "--optim.lr", str(s.lr), "--optim.weight_decay", str(s.weight_decay),
        "--optim.warmup_steps", str(s.warmup), "--optim.schedule", "constant",
        "--optim.max_grad_norm", str(s.grad_clip), "--optim.mixed_precision", mixed,
        "--log_every", "1", "--checkpoint.every_steps", str(s.steps), "--seed", str(s.seed),
        "--threads", str(s.threads), *extra,
    ]  # fmt: skip


def run_measured(command: list[str], log_file: Path) -> dict:
    """Run ``command`` to the end; its wall time and peak RSS (the process alone, from wait4)."""
    t0 = time.perf_counter()
    with open(log_file, "w") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        tail = log_file.read_text()[-3000:]
        raise RuntimeError(f"{command[:3]} failed ({proc.returncode}); log {log_file}:\n{tail}")
    return {"wall_s": time.perf_counter() - t0, "peak_rss_mb": usage.ru_maxrss / 1024}


def open_clip_steps(log_file: Path) -> list[dict]:
    """Per-step samples/s, lr and loss from open_clip_train's log."""
    steps = [m.groups() for m in map(_OPEN_CLIP_STEP.search, log_file.read_text().splitlines()) if m]
    return [{"samples_per_s": float(v), "lr": float(lr), "loss": float(loss)} for v, lr, loss in steps]


def our_steps(run_dir: Path) -> list[dict]:
    rows = MetricsLog(run_dir / "metrics.jsonl").read()
    return [
        {"samples_per_s": r["pairs_per_s"], "lr": r["lr"], "loss": r["loss"]} for r in rows if "loss" in r
    ]


def throughput(steps: list[dict], batch: int, skip: int) -> float:
    """Samples per second over the timed steps (total samples / total step time)."""
    timed = steps[skip:]
    return batch * len(timed) / sum(batch / s["samples_per_s"] for s in timed)


def _summary(steps: list[dict], measured: dict, s: ParitySettings) -> dict:
    return {**measured, "samples_per_s": throughput(steps, s.batch_size, s.skip), "steps": steps}


def run_parity(source: str, work: Path, s: ParitySettings, lora: bool = False) -> dict:
    """Both trainers on the same work; ``ratio`` = ours / open_clip_train samples per second."""
    import open_clip

    work.mkdir(parents=True, exist_ok=True)
    size = open_clip.get_model_config(s.arch)["vision_cfg"]["image_size"]
    dataset, csv = prepare_data(source, work, s.batch_size, size)
    init = work / "init.pt"
    save_init(s.arch, init, s.seed)
    out = {"settings": vars(s), "transform_max_abs_diff": transform_gap(dataset, s.arch, init)}
    measured = run_measured(open_clip_command(s, csv, init, work / "logs"), work / "open_clip_train.log")
    out["open_clip_train"] = _summary(open_clip_steps(work / "open_clip_train.log"), measured, s)
    measured = run_measured(our_command(s, dataset, init, work / "ours"), work / "ours.log")
    out["hubbleclip"] = _summary(our_steps(work / "ours"), measured, s)
    theirs, ours = out["open_clip_train"], out["hubbleclip"]
    if len(theirs["steps"]) != s.steps or len(ours["steps"]) != s.steps:
        raise RuntimeError(
            f"expected {s.steps} logged steps, got {len(theirs['steps'])} and {len(ours['steps'])}"
        )
    out["ratio"] = ours["samples_per_s"] / theirs["samples_per_s"]
    out["rss_ratio"] = ours["peak_rss_mb"] / theirs["peak_rss_mb"]
    gaps = np.abs([a["loss"] - b["loss"] for a, b in zip(ours["steps"], theirs["steps"])])
    out["loss_max_abs_diff"] = float(gaps.max())
    out["loss_tolerance"] = LOSS_TOLERANCE
    out["losses_agree"] = bool(gaps.max() <= LOSS_TOLERANCE)
    out["lr_max_abs_diff"] = float(
        max(abs(a["lr"] - b["lr"]) for a, b in zip(ours["steps"], theirs["steps"]))
    )
    if lora:
        out["lora"] = run_lora(s, dataset, init, work)
    return out


def run_lora(s: ParitySettings, dataset: Path, init: Path, work: Path) -> dict:
    """Ours with LoRA on both towers (open_clip_train has no LoRA), then the export checked in plain
    open_clip against the adapted model."""
    run_dir = work / "ours-lora"
    measured = run_measured(our_command(s, dataset, init, run_dir, lora=True), work / "ours-lora.log")
    cfg = load_config(TrainConfig, run_dir / "config.yaml")
    images = datasets.load_from_disk(str(dataset))["train"]
    model = load_model(cfg.model.spec)
    pixels = torch.stack([model.image_transform()(img) for img in images["image"][:4]])
    gap = plain_open_clip_gap(
        cfg, list_checkpoints(run_dir)[-1], run_dir / "export", pixels, images["caption"][:4]
    )
    return {**_summary(our_steps(run_dir), measured, s), **gap}


# ---- Metric definitions: ours against the peers' code on the same seeded embeddings ----------
# The peers' few lines, re-implemented in numpy from their public code:
# CLIP_benchmark (clip_benchmark/metrics/zeroshot_retrieval.py, recall_at_k), open_clip
# (open_clip_train/train.py, get_clip_metrics) and PAPERCLIP (models/eval_utils.py: top-k of the
# text->image logits of a validation batch; the notebook's curve samples k = 1, 101, 201, ...).


def clip_benchmark_recall(scores: np.ndarray, positive: np.ndarray, k: int) -> float:
    """CLIP_benchmark: a query is recalled when any positive is among its top-k (torch.topk)."""
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return float(np.take_along_axis(positive, top, axis=1).any(axis=1).mean())


def open_clip_metrics(image: np.ndarray, text: np.ndarray) -> dict[str, float]:
    """open_clip's get_clip_metrics: the own partner's position in argsort(descending), pair i = i."""
    out = {}
    logits = image @ text.T
    for name, logit in (("image_to_text", logits), ("text_to_image", logits.T)):
        preds = np.nonzero(np.argsort(-logit, axis=1, kind="stable") == np.arange(len(logit))[:, None])[1]
        out[f"{name}_mean_rank"] = float(preds.mean() + 1)
        out[f"{name}_median_rank"] = float(np.floor(np.median(preds)) + 1)
        for k in (1, 5, 10):
            out[f"{name}_R@{k}"] = float(np.mean(preds < k))
    return out


def paperclip_batch_topk(image: np.ndarray, text: np.ndarray, k: int = 10, batch: int = 100) -> float:
    """PAPERCLIP's validation metric: per batch, text->image logits, own image in the top k."""
    hits = []
    for start in range(0, len(image) - batch + 1, batch):  # drop_last
        logits = text[start : start + batch] @ image[start : start + batch].T
        top = np.argsort(-logits, axis=1, kind="stable")[:, :k]
        hits.append((top == np.arange(batch)[:, None]).any(axis=1))
    return float(np.concatenate(hits).mean())


def paperclip_notebook_curve(image: np.ndarray, text: np.ndarray, step: int = 100) -> dict[int, float]:
    """PAPERCLIP's plotted image->text curve: accuracy of the top-k at k = 1, 1 + step, ..."""
    logits = image @ text.T
    position = np.nonzero(np.argsort(-logits, axis=1, kind="stable") == np.arange(len(image))[:, None])[1]
    return {k: float(np.mean(position < k)) for k in range(1, len(image) + 1, step)}


def _ours(image: np.ndarray, text: np.ndarray, image_text: np.ndarray, objects: np.ndarray) -> dict:
    from hubbleclip.metrics import (
        EmbeddingScores,
        first_relevant_ranks,
        pair_ranks,
        paper_in_batch_hits,
        relevance_from_keys,
    )

    texts, inverse = np.unique(image_text, return_inverse=True)
    distinct = text[np.unique(inverse, return_index=True)[1]]
    keys = [{("text", t), ("object", o)} for t, o in zip(inverse, objects)]
    objects_of = [{("text", t)} | {("object", o) for o in objects[inverse == t]} for t in range(len(texts))]
    relevant = relevance_from_keys(keys, objects_of)
    scores = image.astype(np.float64) @ distinct.astype(np.float64).T
    to_text, to_image = pair_ranks(EmbeddingScores(image, distinct), inverse)
    return {
        "relevant": relevant.toarray(),
        "scores": scores,
        "image_to_text": first_relevant_ranks(scores, relevant),
        "text_to_image": first_relevant_ranks(scores.T, relevant.T),
        "pair_image_to_text": to_text,
        "pair_text_to_image": to_image,
        "paper_in_batch": paper_in_batch_hits(EmbeddingScores(image, distinct), inverse),
    }


def seeded_pairs(n: int, dim: int, seed: int, shared: float = 0.0) -> tuple[np.ndarray, ...]:
    """Unit image and caption embeddings of n pairs, images near their caption; a ``shared`` share
    of the images take one of n/20 common captions (FIRST-like), each image its own object."""
    rng = np.random.default_rng(seed)
    image_text = np.arange(n)
    common = rng.random(n) < shared
    image_text[common] = n + rng.integers(0, max(n // 20, 1), common.sum())
    base = rng.normal(size=(image_text.max() + 1, dim))
    text = base[image_text]
    image = text + 1.2 * rng.normal(size=(n, dim))
    unit = lambda x: (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)  # noqa: E731
    return unit(image), unit(text), image_text, np.arange(n)


def metric_parity(n: int = 500, dim: int = 32, seed: int = 0) -> dict:
    """Ours against each peer, with unique captions (every definition should agree exactly) and
    with shared captions (where ours deliberately differs from the own-partner definitions)."""
    out = {}
    for layout, shared in (("unique_captions", 0.0), ("shared_captions", 0.4)):
        image, text, image_text, objects = seeded_pairs(n, dim, seed, shared)
        ours = _ours(image, text, image_text, objects)
        oc = open_clip_metrics(image, text)
        row = {}
        for direction, scores, positive in (
            ("image_to_text", ours["scores"], ours["relevant"]),
            ("text_to_image", ours["scores"].T, ours["relevant"].T),
        ):
            ranks, pair = ours[direction], ours[f"pair_{direction}"]
            for k in (1, 5, 10):
                row[f"{direction} R@{k}"] = {
                    "ours": float(np.mean(ranks <= k)),
                    "clip_benchmark (our relevance)": clip_benchmark_recall(scores, positive, k),
                    "ours pair-level (paper)": float(np.mean(pair <= k)),
                    "open_clip": oc[f"{direction}_R@{k}"],
                }
            row[f"{direction} median_rank"] = {
                "ours pair-level (paper)": float(np.median(pair)),
                "open_clip (floor(median of 0-based)) + 1": oc[f"{direction}_median_rank"],
            }
            row[f"{direction} mean_rank"] = {
                "ours pair-level (paper)": float(pair.mean()),
                "open_clip": oc[f"{direction}_mean_rank"],
            }
        row["text_to_image in-batch top-10 of 100"] = {
            "ours pair-level (paper)": float(ours["paper_in_batch"].mean()),
            "PAPERCLIP eval_utils": paperclip_batch_topk(image, text),
        }
        curve = paperclip_notebook_curve(image, text)
        pair = ours["pair_image_to_text"]
        row["image_to_text curve at the notebook's k"] = {
            "ours pair-level (paper)": [float(np.mean(pair <= k)) for k in curve],
            "PAPERCLIP notebook": list(curve.values()),
        }
        out[layout] = row
    return out


def parity_lines(result: dict) -> list[str]:
    """One line per metric: the values, and whether all agree."""
    lines = []
    for layout, rows in result.items():
        lines.append(f"{layout}:")
        for metric, values in rows.items():
            flat = [tuple(v) if isinstance(v, list) else v for v in values.values()]
            agree = all(np.allclose(f, flat[0]) for f in flat)
            shown = ", ".join(
                f"{k} {v:.4f}" if not isinstance(v, list) else f"{k} {np.round(v, 3).tolist()}"
                for k, v in values.items()
            )
            lines.append(f"  {metric}: {'agree' if agree else 'DIFFER'}: {shown}")
    return lines
