"""Run named stages in order; each is skipped when its outputs exist, redone with --overwrite.

A stage records success by writing ``<run_dir>/<stage>/done.json`` (its outputs and time) last,
atomically, so a killed stage is redone on the next run and a finished one is not, unless a stage
before it finished later (its inputs changed) or it is forced.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hubbleclip.errors import UserError
from hubbleclip.io import atomic_write_json
from hubbleclip.metrics import print_table
from hubbleclip.runs import scoped_run_logs

log = logging.getLogger(__name__)


@dataclass
class Stage:
    name: str
    title: str
    run: Callable[[Path], dict[str, Any]]  # gets its own output dir, returns what it produced


def done_file(run_dir: Path, stage: str) -> Path:
    return run_dir / stage / "done.json"


def read_done(run_dir: Path, stage: str) -> dict[str, Any] | None:
    path = done_file(run_dir, stage)
    return json.loads(path.read_text()) if path.is_file() else None


def _newer_upstream(stages: list[Stage], name: str, run_dir: Path, done: dict[str, Any] | None) -> str | None:
    """The first earlier stage that finished after ``name`` did (so ``name`` saw older inputs)."""
    if done is None:
        return None
    for stage in stages:
        if stage.name == name:
            return None
        before = read_done(run_dir, stage.name)
        if before and before["finished"] > done["finished"]:
            return stage.name
    return None


def run_stages(
    stages: list[Stage], run_dir: Path, only: list[str] | None = None, overwrite: list[str] | bool = False
) -> list[dict[str, Any]]:
    """Run ``stages`` (or the ``only`` subset) in order; returns one summary row per stage."""
    from rich.console import Console

    console = Console()
    names = [s.name for s in stages]
    unknown = sorted(set(only or []) - set(names)) + sorted(
        set(overwrite if isinstance(overwrite, list) else []) - set(names)
    )
    if unknown:
        raise UserError(f"unknown stage(s) {unknown}; expected some of {names}")
    summary = []
    selected = [s for s in stages if not only or s.name in only]
    for i, stage in enumerate(selected, 1):
        forced = overwrite is True or (isinstance(overwrite, list) and stage.name in overwrite)
        previous = read_done(run_dir, stage.name)
        header = f"[bold]stage {i}/{len(selected)}: {stage.name}[/bold] — {stage.title}"
        newer = _newer_upstream(stages, stage.name, run_dir, previous)
        if previous and newer and not forced:
            console.print(f"{header}: [yellow]outdated[/yellow] ({newer} finished after it), redoing it")
        elif previous and not forced:
            console.print(
                f"{header} [green]already done[/green] "
                f"({previous['seconds']:.1f} s when run; --overwrite {stage.name} redoes it)"
            )
            summary.append(
                {
                    "stage": stage.name,
                    "status": "skipped (done)",
                    "seconds": 0.0,
                    "outputs": previous["outputs"],
                }
            )
            continue
        console.rule(header)
        out = run_dir / stage.name
        out.mkdir(parents=True, exist_ok=True)
        done_file(run_dir, stage.name).unlink(missing_ok=True)  # a redo killed midway is not "done"
        t = time.perf_counter()
        with scoped_run_logs():
            outputs = stage.run(out)
        seconds = time.perf_counter() - t
        atomic_write_json(
            done_file(run_dir, stage.name), {"outputs": outputs, "seconds": seconds, "finished": time.time()}
        )
        console.print(f"[green]✓ {stage.name}[/green] in {seconds:.1f} s")
        summary.append({"stage": stage.name, "status": "ran", "seconds": seconds, "outputs": outputs})
    return summary


def print_timings(summary: list[dict[str, Any]]) -> None:
    rows = [[row["stage"], row["status"], f"{row['seconds']:.1f}"] for row in summary]
    rows.append(["total", "", f"{sum(r['seconds'] for r in summary):.1f}"])
    print_table(["stage", "status", "seconds"], rows, title="stage timings")
