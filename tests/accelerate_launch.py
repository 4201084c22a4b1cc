"""Run a training script under ``accelerate launch`` with two CPU processes (gloo)."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def two_processes(script: str, args: list[str], timeout: int = 300) -> subprocess.CompletedProcess:
    """``accelerate launch --multi_gpu --num_processes 2 REPO/script ARGS`` (--multi_gpu also selects
    the multi-process launcher without a GPU)."""
    launcher = [
        str(Path(sys.executable).parent / "accelerate"),
        "launch",
        "--multi_gpu",
        "--num_processes",
        "2",
    ]
    launcher += ["--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
    return subprocess.run(
        [*launcher, str(REPO / script), *args], capture_output=True, text=True, timeout=timeout, check=False
    )
