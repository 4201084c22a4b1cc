"""Child-side code of the kill-anywhere tests: what a forked job process runs.

The test forks jobs from a forkserver (the ``forkserver`` fixture; the load test starts its server
process from it too) that has the heavy modules imported already, so a job starts
in milliseconds instead of seconds; each job is a real ``hubbleclip`` command (``cli``) or, for
captions, the library call with a deterministic fake LLM that takes time like a real one.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sys
import time

PRELOAD = [
    "numpy",
    "torch",
    "datasets",
    "PIL.Image",
    "hubbleclip.cli",
    "hubbleclip.data.build",
    "hubbleclip.search.index",
    "hubbleclip.models.feature_cache",
    "hubbleclip.models.embed",
    "hubbleclip.similarity.index",
    "hubbleclip.similarity.neighbours",
    "hubbleclip.similarity.encoders",
    "hubbleclip.training.session",
    "hubbleclip.training.trainer",
    "hubbleclip.similarity.train",
    "hubbleclip.captions.pipeline",
    "bench.harness.loadcheck",
    "uvicorn",
    "httpx",
    "hubbleclip.models",
    "hubbleclip.models.lit",
    "hubbleclip.search.corpus",
    "hubbleclip.data.sources.openngc",
    "hubbleclip.data.sources.stellarium",
    "astropy.coordinates",
    "accelerate",
    "transformers",
    "timm",
    "bm25s",
    "pyarrow.parquet",
    "hubbleclip.data.export",
    "webdataset",
]


class SlowFakeLLM:
    """Captions from the first word of each text, after ``seconds`` per text (a stand-in LLM)."""

    name = "fake-slow"
    max_batch = 4

    def __init__(self, seconds: float = 0.03):
        self.seconds = seconds

    def generate(self, conversations, attempt):
        time.sleep(self.seconds * len(conversations))
        out = []
        for conversation in conversations:
            word = conversation[-1]["content"].split()[0].lower().strip(".,;:")
            out.append(
                json.dumps(
                    {
                        "objects_and_phenomena": [f"{word} nebula", "ionized gas"],
                        "science_use_cases": ["star formation"],
                    }
                )
            )
        return out


def run_cli(argv: list[str]) -> int:
    from hubbleclip.cli import main

    return main(argv)


def run_captions(argv: list[str]) -> int:
    """``captions generate`` with the fake LLM: argv is ``[TABLE, KEY=VALUE...]`` config fields."""
    from hubbleclip.captions.config import CaptionsConfig
    from hubbleclip.captions.pipeline import generate_captions
    from hubbleclip.cli import setup_logging
    from hubbleclip.config import load_config

    setup_logging()
    overrides = dict(a.split("=", 1) for a in argv[1:])
    generate_captions(
        load_config(CaptionsConfig, None, {"dataset": argv[0], **overrides}), backend=SlowFakeLLM()
    )
    return 0


def run_nothing(argv: list[str]) -> int:
    """Waits for the forkserver's preloading, so that no job's timing includes it."""
    return 0


TARGETS = {"cli": run_cli, "captions": run_captions, "nothing": run_nothing}


def child(target: str, argv: list[str], workdir: str, log: str, env: dict, fsize: int | None) -> None:
    """Runs in the forked process: cwd, environment, output to ``log``, optional file-size limit."""
    os.chdir(workdir)
    os.environ.update(env)
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    if fsize is not None:  # a full disk: writes past fsize fail with EFBIG instead of killing us
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    code = TARGETS[target](argv)
    sys.stdout.flush()
    sys.stderr.flush()
    sys.exit(code)
