"""Run directories: the resolved config, a log file and an append-only metrics file per job.

Every job (training, evaluation, reranking, the demo) writes into its own directory:
``config.yaml``, a log (``run.log`` by default) and, for jobs that log metrics, ``metrics.jsonl``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hubbleclip.config import save_config
from hubbleclip.io import atomic_write_text, json_default


class MetricsLog:
    """Append-only JSON-lines metrics file (one flushed line per record)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def log(self, **record: Any) -> None:
        record.setdefault("time", time.time())
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, default=json_default) + "\n")
            fh.flush()

    def read(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        with open(self.path, encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]

    def keep_until(self, step: int) -> None:
        """Drop the records after ``step``: what a killed run logged past the checkpoint it resumes from."""
        kept = [r for r in self.read() if r.get("step", 0) <= step]
        atomic_write_text(self.path, "".join(json.dumps(r, default=json_default) + "\n" for r in kept))


def setup_run_dir(run_dir: str | Path, config: Any | None = None, log_name: str = "run.log") -> Path:
    """Create a run directory, write its resolved config and attach a file logger."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    if config is not None:
        save_config(config, run_dir / "config.yaml")
    handler = logging.FileHandler(run_dir / log_name, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("hubbleclip")
    root.setLevel(logging.INFO)
    if not any(
        isinstance(h, logging.FileHandler) and Path(h.baseFilename) == handler.baseFilename
        for h in root.handlers
    ):
        root.addHandler(handler)
    else:
        handler.close()
    return run_dir


@contextlib.contextmanager
def scoped_run_logs() -> Iterator[None]:
    """Detach, on exit, the run-directory log files that jobs inside the block attached, so that one
    process running several jobs (the demo) does not keep writing one job's log into the next."""
    root = logging.getLogger("hubbleclip")
    before = set(root.handlers)
    try:
        yield
    finally:
        for handler in set(root.handlers) - before:
            root.removeHandler(handler)
            handler.close()
