"""Checkpoints: ``RUN/checkpoints/step-NNNNNNN/`` with the trainable weights, optimizer, scheduler,
RNG states of every process and the trainer state; each written atomically.

Frozen weights are not stored: a resumed run rebuilds them from the model spec.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from hubbleclip.errors import UserError
from hubbleclip.io import atomic_directory, atomic_write_json

CHECKPOINTS = "checkpoints"


def trainable_state(model: nn.Module) -> dict[str, torch.Tensor]:
    state = {n: p.detach().cpu().contiguous() for n, p in model.named_parameters() if p.requires_grad}
    state.update({n: b.detach().cpu().contiguous() for n, b in model.named_buffers()})
    return state


def rng_state() -> dict:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(
    run_dir: Path, step: int, model: nn.Module, optimizer, scheduler, rng_states: list, state: dict
) -> Path:
    path = Path(run_dir) / CHECKPOINTS / f"step-{step:07d}"
    with atomic_directory(path, overwrite=True) as tmp:
        save_file(trainable_state(model), str(tmp / "trainable.safetensors"))
        torch.save(
            {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "rng": rng_states},
            tmp / "optim.pt",
        )
        atomic_write_json(tmp / "state.json", {"step": step, **state})
    return path


def list_checkpoints(run_dir: Path) -> list[Path]:
    root = Path(run_dir) / CHECKPOINTS
    return sorted(p for p in root.glob("step-*") if (p / "state.json").is_file()) if root.is_dir() else []


def load_trainable(path: Path, model: nn.Module) -> None:
    """Put a checkpoint's trainable weights (and buffers) into ``model``."""
    weights = load_file(str(Path(path) / "trainable.safetensors"))
    missing = set(weights) - {n for n, _ in model.named_parameters()} - {n for n, _ in model.named_buffers()}
    if missing:
        raise UserError(
            f"{path}: weights {sorted(missing)[:5]} do not exist in this model; "
            "resume with the same model and freeze settings"
        )
    model.load_state_dict(weights, strict=False)


def load_checkpoint(path: Path, model: nn.Module, optimizer, scheduler, rank: int) -> dict:
    """Restore everything saved by :func:`save_checkpoint`; returns the trainer state."""
    path = Path(path)
    if not (path / "state.json").is_file():
        raise FileNotFoundError(f"{path}: not a checkpoint (no state.json)")
    load_trainable(path, model)
    extra = torch.load(path / "optim.pt", map_location="cpu", weights_only=False)
    optimizer.load_state_dict(extra["optimizer"])
    scheduler.load_state_dict(extra["scheduler"])
    rngs = extra["rng"]
    set_rng_state(rngs[rank] if rank < len(rngs) else rngs[0])
    return json.loads((path / "state.json").read_text())


def prune_checkpoints(run_dir: Path, keep_best: int) -> None:
    """Keep the latest checkpoint and the ``keep_best`` with the lowest validation loss."""
    ckpts = list_checkpoints(run_dir)
    states = {p: json.loads((p / "state.json").read_text()) for p in ckpts}
    scored = sorted((s["val_loss"], p) for p, s in states.items() if s.get("val_loss") is not None)
    keep = {ckpts[-1]} | {p for _, p in scored[:keep_best]} if ckpts else set()
    if not scored:  # no validation: keep the most recent ones
        keep |= set(ckpts[-keep_best:]) if keep_best else set()
    for p in ckpts:
        if p not in keep:
            _remove(p)
    for stale in (Path(run_dir) / CHECKPOINTS).glob(".step-*.deleting"):  # left by a killed run
        shutil.rmtree(stale, ignore_errors=True)


def _remove(path: Path) -> None:
    """Rename out of sight, then delete: a kill during the removal never leaves a half-deleted
    checkpoint that looks like a real one."""
    trash = path.with_name(f".{path.name}.deleting")
    shutil.rmtree(trash, ignore_errors=True)
    os.replace(path, trash)
    shutil.rmtree(trash, ignore_errors=True)


def best_checkpoint(run_dir: Path) -> Path | None:
    """The kept checkpoint with the lowest validation loss (the latest of equal ones), or None."""
    scored = [
        (json.loads((p / "state.json").read_text()).get("val_loss"), p) for p in list_checkpoints(run_dir)
    ]
    scored = [(v, p) for v, p in scored if v is not None]
    return min(scored)[1] if scored else None
