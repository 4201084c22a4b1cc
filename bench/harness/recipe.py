"""PAPERCLIP's recipe (``training/configs/paperclip.yaml``: ViT-B/16, batch 32, AdamW lr 1e-5) on
WebDataset shards, ours against ``open_clip_train`` on the same shards, the same random init and
the same precision: samples/s and peak RSS of each.

Ours reads the WebDataset shards; open_clip_train reads the same rows from their CSV export,
because its WebDataset reader (open_clip 3.3) fails on webdataset 1.x's samples (``KeyError:
'fname'``).  Each shuffles in its own order, so unlike :mod:`bench.harness.parity` the per-step
losses are not compared; the check is throughput.  The recipe's rotations and flips
are switched off here because open_clip_train has none: the timed work is the same on both sides.

``export_small_shards`` prepares the shard set the GPU machine gets (it has no skyset and no
network): the first ``n`` imaged train rows, padded square, resized and re-encoded as JPEG so a
thousand images fit in a few MB.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import datasets
from PIL import Image

from hubbleclip.data.config import ExportConfig
from hubbleclip.data.export import export_dataset
from hubbleclip.training.data import imaged_split
from hubbleclip.transforms import PadToSquare

from .parity import our_steps, run_measured, save_init, throughput

RECIPE = "training/configs/paperclip.yaml"
_OPEN_CLIP_STEP = re.compile(r"Batch \(t\): [\d.]+, ([\d.]+)/s.*?LR: ([\d.e-]+) ")


@dataclass
class RecipeSettings:
    arch: str = "ViT-B-16"
    batch_size: int = 32
    steps: int = 200
    skip: int = 10  # first steps not timed (compilation, cuDNN autotuning, loader warm-up)
    precision: str = "amp_bf16"  # open_clip_train --precision; ours: amp_bf16 -> bf16
    workers: int = 4
    seed: int = 0


def export_small_shards(
    source: str, out: Path, n: int = 1024, size: int = 224, shard_size: int = 256
) -> Path:
    """``n`` imaged train rows of the saved dataset ``source``, as a saved dataset ``out/dataset``
    (for :mod:`bench.harness.parity`), as WebDataset shards ``out/shards/train`` and as
    open_clip_train's CSV ``out/csv/train.csv``."""

    def shrink(row):
        image = PadToSquare(0)(row["image"].convert("RGB")).resize((size, size), Image.BICUBIC)
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=90)
        row["image"] = {"bytes": buffer.getvalue(), "path": None}
        return row

    rows = imaged_split(source, "train", n)
    small = out / "dataset"
    datasets.DatasetDict({"train": rows.map(shrink)}).save_to_disk(str(small))
    export_dataset(
        ExportConfig(dataset=str(small), out=str(out / "shards"), splits=["train"], shard_size=shard_size)
    )
    export_dataset(ExportConfig(dataset=str(small), out=str(out / "csv"), format="csv", splits=["train"]))
    # the bundle moves between machines: image paths relative to the CSV's folder
    table = out / "csv" / "train.csv"
    with open(table, newline="") as fh:
        rows = list(csv.reader(fh, delimiter="\t"))
    for row in rows[1:]:
        row[0] = os.path.relpath(row[0], table.parent)
    write_csv(table, rows)
    return out / "shards" / "train"


def write_csv(path: Path, rows: list[list[str]]) -> None:
    with open(path, "w", newline="") as fh:
        csv.writer(fh, delimiter="\t", lineterminator="\n").writerows(rows)


def absolute_csv(table: Path, out: Path, limit: int) -> int:
    """The first ``limit`` rows of ``table`` into ``out``, image paths made absolute
    (open_clip_train opens them as given, and trains whole epochs of them); returns the row count."""
    with open(table, newline="") as fh:
        rows = list(csv.reader(fh, delimiter="\t"))[: limit + 1]
    for row in rows[1:]:
        row[0] = str((table.parent / row[0]).resolve())
    write_csv(out, rows)
    return len(rows) - 1


def shard_pattern(split_dir: Path) -> tuple[str, int]:
    """The brace pattern of a split folder's ``NNNNN.tar`` shards, and its number of samples."""
    tars = sorted(split_dir.glob("*.tar"))
    if not tars:
        raise FileNotFoundError(f"no .tar shards in {split_dir} (make them with bench/gpu_bundle.sh)")
    first, last = tars[0].stem, tars[-1].stem
    n = sum(json.loads((split_dir / "sizes.json").read_text()).values())
    return str(split_dir / (f"{{{first}..{last}}}.tar" if first != last else f"{first}.tar")), n


def open_clip_command(s: RecipeSettings, table: Path, n_samples: int, init: Path, logs: Path) -> list[str]:
    epochs = -(-s.steps // (n_samples // s.batch_size))  # enough epochs for s.steps steps
    return [
        sys.executable, "-m", "open_clip_train.main",
        "--model", s.arch, "--pretrained", str(init),
        "--train-data", str(table), "--dataset-type", "csv", "--csv-separator", "\t",
        "--csv-img-key", "filepath", "--csv-caption-key", "title", "--epochs", str(epochs),
        "--batch-size", str(s.batch_size), "--lr", "1e-5", "--wd", "1e-3",
        "--beta1", "0.9", "--beta2", "0.98", "--eps", "1e-6", "--warmup", "2000", "--lr-scheduler", "const",
        "--precision", s.precision, "--workers", str(s.workers), "--seed", str(s.seed),
        "--log-every-n-steps", "1", "--zeroshot-frequency", "0", "--save-frequency", "0",
        "--logs", str(logs), "--name", "recipe",
    ]  # fmt: skip


def our_command(s: RecipeSettings, pattern: str, init: Path, run_dir: Path) -> list[str]:
    mixed = {"fp32": "no", "amp_bf16": "bf16", "amp": "fp16"}[s.precision]
    return [
        sys.executable, "-c", "import sys; from hubbleclip.cli import main; sys.exit(main())", "train",
        "--config", RECIPE, "--out", str(run_dir), "--model.spec", f"open_clip:{s.arch}@{init}",
        "--data.webdataset", pattern, "--data.num_workers", str(s.workers),
        "--augment.rot90", "false", "--augment.flips", "false",
        "--optim.batch_size", str(s.batch_size), "--optim.max_steps", str(s.steps),
        "--optim.mixed_precision", mixed, "--log_every", "1",
        "--data.val_split", "", "--checkpoint.every_steps", str(s.steps), "--seed", str(s.seed),
    ]  # fmt: skip


def run_recipe(split_dir: Path, table: Path, work: Path, s: RecipeSettings) -> dict:
    """Ours for ``s.steps`` steps on the shards in ``split_dir``, open_clip_train on the same rows
    as ``table`` (CSV); ``ratio`` = ours / theirs samples per second over the timed steps."""
    work.mkdir(parents=True, exist_ok=True)
    pattern, n_samples = shard_pattern(split_dir)
    init = work / "init.pt"
    save_init(s.arch, init, s.seed)
    out: dict = {"settings": vars(s), "shards": pattern, "shard_samples": n_samples}
    theirs_log = work / "open_clip_train.log"
    theirs_csv = work / "train.csv"
    n_rows = absolute_csv(table, theirs_csv, s.batch_size * s.steps)
    measured = run_measured(open_clip_command(s, theirs_csv, n_rows, init, work / "logs"), theirs_log)
    steps = [
        {"samples_per_s": float(m.group(1)), "lr": float(m.group(2))}
        for m in map(_OPEN_CLIP_STEP.search, theirs_log.read_text().splitlines())
        if m
    ][: s.steps]
    out["open_clip_train"] = {**measured, "samples_per_s": throughput(steps, s.batch_size, s.skip)}
    measured = run_measured(our_command(s, pattern, init, work / "ours"), work / "ours.log")
    ours = our_steps(work / "ours")
    out["hubbleclip"] = {**measured, "samples_per_s": throughput(ours, s.batch_size, s.skip)}
    out["ratio"] = out["hubbleclip"]["samples_per_s"] / out["open_clip_train"]["samples_per_s"]
    out["steps_logged"] = {"open_clip_train": len(steps), "hubbleclip": len(ours)}
    return out
