"""The run skeleton every trainer shares (CLIP fine-tuning and the SimCLR / GalaxIDNet encoders).

A :class:`TrainingSession` owns one run directory under Accelerate:

* setup: ``config.yaml``, ``run.log``, ``metrics.jsonl``, ``tensorboard/``, written by the main
  process only, so N processes never write a line twice;
* resume and overwrite rules: a directory with checkpoints is refused unless ``resume`` is
  ``latest`` (or a checkpoint directory) or ``overwrite`` is set; on resume the metrics the killed
  run logged after its checkpoint are dropped;
* checkpoints (``checkpoints/step-NNNNNNN/``, see :mod:`hubbleclip.training.checkpoint`), the
  latest and the ``keep_best`` lowest validation losses kept;
* the export: the last step, or the checkpoint with the lowest validation loss (``export: best``).

:class:`ValidationSums` adds named per-batch numbers over the batches of every process.
"""

from __future__ import annotations

import logging
import math
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from accelerate.utils import gather_object

from hubbleclip.errors import UserError
from hubbleclip.models.loader import EXPORT_DIR as EXPORT
from hubbleclip.runs import MetricsLog, setup_run_dir
from hubbleclip.training.checkpoint import (
    CHECKPOINTS,
    best_checkpoint,
    list_checkpoints,
    load_checkpoint,
    load_trainable,
    prune_checkpoints,
    rng_state,
    save_checkpoint,
)
from hubbleclip.training.config import CheckpointSection, TrainingRunConfig

log = logging.getLogger(__name__)


def make_accelerator(run_dir: str | Path, mixed_precision: str = "no") -> Accelerator:
    """One Accelerator per run, logging to ``RUN/tensorboard``.  Without a GPU, processes started by
    torchrun / ``accelerate launch --multi_gpu`` join as gloo CPU workers."""
    return Accelerator(
        cpu=not torch.accelerator.is_available(),
        mixed_precision=mixed_precision,
        log_with="tensorboard",
        project_dir=str(run_dir),
    )


def resume_path(run_dir: Path, resume: str, overwrite: bool) -> Path | None:
    """The checkpoint to continue from, or None to start afresh (the rules in the module docstring)."""
    ckpts = list_checkpoints(run_dir)
    if resume == "latest":
        if not ckpts:
            log.info("resume=latest: no checkpoint in %s yet, starting from scratch", run_dir / CHECKPOINTS)
        return ckpts[-1] if ckpts else None
    if resume:
        if not Path(resume, "state.json").is_file():
            raise FileNotFoundError(f"resume={resume}: not a checkpoint directory (no state.json in it)")
        return Path(resume)
    if ckpts and not overwrite:
        raise FileExistsError(
            f"{run_dir} already has checkpoints: pass --resume latest to continue "
            "or --overwrite true to start again"
        )
    return None


class ValidationSums:
    """Sums of named per-batch numbers (``loss``, ``batches``, ``pairs``, hit counts, ...) over this
    process's validation batches, added up over all processes by :meth:`total`."""

    def __init__(self, *names: str):
        self.sums = dict.fromkeys(names, 0.0)

    def add(self, **values: float) -> None:
        unknown = set(values) - set(self.sums)
        if unknown:
            raise KeyError(f"validation sums {sorted(unknown)} were not declared")
        for name, value in values.items():
            self.sums[name] += float(value)

    def total(self, accelerator: Accelerator) -> dict[str, float]:
        local = torch.tensor(list(self.sums.values()), dtype=torch.float64, device=accelerator.device)
        summed = accelerator.reduce(local, "sum").cpu().tolist()
        return dict(zip(self.sums, summed))


class TrainingSession:
    """One training run directory under Accelerate (see the module docstring)."""

    def __init__(self, config: TrainingRunConfig, checkpoint: CheckpointSection, accelerator: Accelerator):
        """``config`` (written to config.yaml) says where the run lives and whether it resumes."""
        if checkpoint.export == "best" and checkpoint.keep_best < 1:
            raise UserError("checkpoint.export=best needs checkpoint.keep_best >= 1")
        self.dir, self.checkpoint, self.accelerator = Path(config.out), checkpoint, accelerator
        resume, overwrite = config.resume, config.overwrite
        self.is_main = accelerator.is_main_process
        if not self.is_main:  # one process reports
            logging.getLogger("hubbleclip").setLevel(logging.WARNING)
        self.resume_from = resume_path(self.dir, resume, overwrite)
        self.metrics = MetricsLog(self.dir / "metrics.jsonl")
        self.best_val_loss = math.inf
        if self.is_main:
            if overwrite and not self.resume_from:
                shutil.rmtree(self.dir / CHECKPOINTS, ignore_errors=True)
                shutil.rmtree(self.dir / EXPORT, ignore_errors=True)
            if not self.resume_from:  # also what a run killed before its first checkpoint logged
                self.metrics.path.unlink(missing_ok=True)
            setup_run_dir(self.dir, config)
        accelerator.wait_for_everyone()
        accelerator.init_trackers("tensorboard")

    def restore(self, model, optimizer, scheduler) -> int:
        """Load the resume checkpoint into ``model`` (unwrapped), optimizer and scheduler; its step."""
        state = load_checkpoint(self.resume_from, model, optimizer, scheduler, self.accelerator.process_index)
        step = state["step"]
        self.best_val_loss = state.get("best_val_loss") or math.inf
        log.info("resumed from %s at step %d", self.resume_from, step)
        if self.is_main:
            self.metrics.keep_until(step)
        return step

    def log(self, **record: Any) -> None:
        """One metrics record (``step`` included): ``metrics.jsonl`` and TensorBoard, once."""
        if self.is_main:
            self.metrics.log(**record)
        numbers = {k: v for k, v in record.items() if k != "step" and isinstance(v, (int, float))}
        self.accelerator.log(numbers, step=record.get("step"))

    def log_validation(self, step: int, val: dict[str, float]) -> None:
        if not val:
            return
        self.best_val_loss = min(self.best_val_loss, val.get("val_loss", math.inf))
        self.log(step=step, **val)
        log.info("step %d validation: %s", step, ", ".join(f"{k} {v:.4f}" for k, v in val.items()))

    def save_checkpoint(self, step: int, model, optimizer, scheduler, val_loss: float | None) -> None:
        """Checkpoint ``model`` (unwrapped) with every process's RNG state; prune the old ones."""
        rngs = gather_object([rng_state()])
        if self.is_main:
            state = {
                "val_loss": val_loss,
                "best_val_loss": None if self.best_val_loss == math.inf else self.best_val_loss,
            }
            save_checkpoint(self.dir, step, model, optimizer, scheduler, rngs, state)
            prune_checkpoints(self.dir, self.checkpoint.keep_best)
        self.accelerator.wait_for_everyone()

    def export(
        self, model, save: Callable[[Any, Path, str | None], object], summary: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Write ``export/`` with ``save(model, path, checkpoint_name)`` from the last step, or from
        the best checkpoint (its trainable weights loaded into ``model`` first), log ``summary`` with
        what was exported as the last metrics record, and end the run; returns what was exported."""
        last = list_checkpoints(self.dir)[-1] if list_checkpoints(self.dir) else None
        source = last
        if self.checkpoint.export == "best":
            source = best_checkpoint(self.dir)
            if source is None:
                log.warning("checkpoint.export=best: no validated checkpoint, so the last step is exported")
                source = last
            elif source != last:
                load_trainable(source, model)
        exported = {"export": str(self.dir / EXPORT), "exported_checkpoint": source.name if source else None}
        if self.is_main:
            save(model, self.dir / EXPORT, exported["exported_checkpoint"])
            log.info("exported %s to %s", exported["exported_checkpoint"] or "the model", exported["export"])
        if summary is not None:
            self.log(**summary, **exported)
        self.accelerator.wait_for_everyone()
        self.accelerator.end_training()
        return exported
