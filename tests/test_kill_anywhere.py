"""Kill anywhere: every long job survives SIGKILL at seed-driven moments.

For each job of ``JOBS``: run it once uninterrupted (the reference), then run the same command
again and again in a fresh directory, SIGKILLed at moments drawn from a seeded schedule, and a last
time to the end.  Throughout, the output location is polled: an output that is visible is always
complete (directories appear atomically).  At the end the job must have finished and its result must
equal the reference (byte-equal where the job is deterministic, the same metrics otherwise).

A new long job is one more ``Job(...)`` row in ``JOBS`` plus its row in the
README table.  ``HUBBLECLIP_KILL_POINTS`` (default 2) and ``HUBBLECLIP_KILL_SEED`` (default 0) change
the schedule; a failure names the seed and the kill times so it reproduces.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from conftest import FIRST_ZIP, KSTARS_DIR, STELLARIUM_DIR
from kill_jobs import child

KILL_POINTS = int(os.environ.get("HUBBLECLIP_KILL_POINTS", "2"))
SEED = int(os.environ.get("HUBBLECLIP_KILL_SEED", "0"))
README = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"  # the kill-anywhere table
VOLATILE = {
    "created",
    "timings_s",
    "seconds",
    "build_seconds",
    "time",
    "took_s",
    "elapsed_s",
    "run",
    "wall_s",
    "started",
}


# --- comparing outputs -------------------------------------------------------------------------------


def _strip(x):
    if isinstance(x, dict):
        return {k: _strip(v) for k, v in x.items() if k not in VOLATILE and k != "_fingerprint"}
    if isinstance(x, list):
        return [_strip(v) for v in x]
    return x


def files(root: Path) -> dict[str, Path]:
    if root.is_file():
        return {"": root}
    return {str(p.relative_to(root)): p for p in sorted(root.rglob("*")) if p.is_file()}


def byte_equal(ref: Path, out: Path) -> str:
    """Every file equal; JSON files equal but for timestamps and durations."""
    a, b = files(ref), files(out)
    assert set(a) == set(b), f"files differ: {sorted(set(a) ^ set(b))}"
    for name, path in a.items():
        if path.suffix == ".json":
            assert _strip(json.loads(path.read_text())) == _strip(json.loads(b[name].read_text())), name
        else:
            assert path.read_bytes() == b[name].read_bytes(), name
    return "byte-equal"


def same_training_metrics(ref: Path, out: Path) -> str:
    """The logged losses, learning rates and validation numbers match (rtol 1e-5), step by step."""

    def records(run: Path) -> dict[str, list[tuple[int, float]]]:
        rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
        keys = ("loss", "lr", "val_loss", "val_i2t_top1", "val_t2i_top1")
        return {k: [(r["step"], r[k]) for r in rows if k in r] for k in keys}

    a, b = records(ref), records(out)
    for key in a:
        assert [s for s, _ in a[key]] == [s for s, _ in b[key]], key
        np.testing.assert_allclose([v for _, v in b[key]], [v for _, v in a[key]], rtol=1e-5, atol=1e-7)
    assert set(files(ref / "export")) == set(files(out / "export"))
    return "same metrics"


# --- jobs --------------------------------------------------------------------------------------------


@dataclass
class Job:
    name: str
    argv: list[str]
    output: str  # relative to the work directory
    equal: Callable[[Path, Path], str] = byte_equal
    target: str = "cli"
    # the atomic units inside the output that must never be seen half-written
    units: Callable[[Path], list[Path]] = field(default=lambda out: [out])
    scratch: tuple[str, ...] = ()  # removed after the reference run (caches), so reruns redo that work
    prepare: Callable[[Path, dict], None] | None = None


def training_units(run: Path) -> list[Path]:
    return [run / "export", *sorted((run / "checkpoints").glob("step-*"))]


def shard_units(out: Path) -> list[Path]:
    """Each shard and each split's bookkeeping file is written atomically on its own."""
    return sorted(p for p in out.glob("*/*") if not p.name.startswith("."))


def write_pairs_index(work: Path, inputs: dict) -> None:
    """A similarity index of 8,000 random 64-d vectors (big enough that all-pairs takes a second)."""
    from hubbleclip.io import atomic_write_json

    rng = np.random.default_rng(0)
    emb = rng.normal(size=(8_000, 64)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    (work / "vectors").mkdir()
    np.save(work / "vectors" / "embeddings.npy", emb)
    items = [
        {"id": f"v{i}", "object_id": f"v{i}", "names": [], "type": "x", "source": "x"}
        for i in range(len(emb))
    ]
    atomic_write_json(work / "vectors" / "items.json", items, indent=0)
    atomic_write_json(work / "vectors" / "meta.json", {"encoder": "random", "dim": 64, "count": len(emb)})


def write_texts(work: Path, inputs: dict) -> None:
    import csv

    with open(work / "texts.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "text"])
        for i in range(48):
            writer.writerow(
                [f"t{i}", f"Object{i} is a bright nebula number {i} with ionized gas and young stars."]
            )


def jobs(inputs: dict) -> list[Job]:
    tiny, model = inputs["tiny_skyset"], inputs["tiny_lit"]
    return [
        Job(
            "skyset build",
            [
                "data",
                "build",
                "--out",
                "sky",
                "--stellarium_dir",
                str(STELLARIUM_DIR),
                "--kstars_dir",
                str(KSTARS_DIR),
                "--first_zip",
                str(FIRST_ZIP),
                "--catalog_max_mag",
                "8",
                "--hdf-cutouts",
                "4",
                "--max-image-size",
                "96",
                "--workers",
                "1",
                "--overwrite",
            ],
            "sky",
        ),
        Job(
            "caption generation",
            ["texts.csv", "batch_size=4", "retries=0"],
            "texts.captions.csv",
            target="captions",
            prepare=write_texts,
        ),
        Job(
            "training",
            [
                "train",
                "--out",
                "run",
                "--model.spec",
                model,
                "--data.path",
                tiny,
                "--optim.batch_size",
                "8",
                "--optim.max_steps",
                "16",
                "--log_every",
                "1",
                "--eval.every_steps",
                "4",
                "--eval.batch_size",
                "3",
                "--eval.top_k",
                "2",
                "--checkpoint.every_steps",
                "4",
                "--freeze.cache_dir",
                "cache",
                "--threads",
                "2",
                "--resume",
                "latest",
            ],
            "run",
            equal=same_training_metrics,
            units=training_units,
            scratch=("cache",),
        ),
        Job(
            "retrieval index build",
            ["index", "build", "--dataset", tiny, "--model", model, "--out", "idx", "--overwrite", "true"],
            "idx",
        ),
        Job(
            "similarity index",
            ["similarity", "index", "--dataset", tiny, "--encoder", model, "--out", "sim", "--overwrite"],
            "sim",
        ),
        Job(
            "webdataset export",
            [
                "data",
                "export",
                "--dataset",
                tiny,
                "--out",
                "shards",
                "--format",
                "webdataset",
                "--shard_size",
                "2",
            ],
            "shards",
            units=shard_units,
        ),
        Job(
            "all-pairs neighbours",
            ["similarity", "pairs", "--index", "vectors", "-k", "300", "--out", "pairs", "--overwrite"],
            "pairs",
            prepare=write_pairs_index,
        ),
    ]


# --- the harness -------------------------------------------------------------------------------------


class Run:
    def __init__(self, ctx, job: Job, work: Path, log: Path, fsize: int | None = None):
        env = {"HUBBLECLIP_CACHE": str(work / "hc-cache"), "TQDM_DISABLE": "1"}
        self.process = ctx.Process(target=child, args=(job.target, job.argv, str(work), str(log), env, fsize))
        self.job, self.work, self.started = job, work, time.perf_counter()
        self.process.start()

    def watch(self, until: float | None, reference: dict[str, set[str]] | None) -> bool:
        """Poll the output until the job exits (True) or ``until`` seconds pass (False); every unit
        that is visible must be complete."""
        while self.process.is_alive():
            if until is not None and time.perf_counter() - self.started >= until:
                return False
            if reference is not None:
                check_units(self.job, self.work, reference)
            time.sleep(0.005)
        self.process.join()
        return True

    def kill(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.join()


def unit_key(unit: Path, out: Path) -> str:
    """Checkpoint directories differ by step: compare them by kind."""
    return re.sub(r"step-\d+", "step-N", str(unit.relative_to(out.parent)))


def unit_files(job: Job, out: Path) -> dict[str, set[str]]:
    return {unit_key(u, out): set(files(u)) for u in job.units(out) if u.exists()}


def check_units(job: Job, work: Path, reference: dict[str, set[str]]) -> None:
    out = work / job.output
    for unit in job.units(out):
        try:
            present = set(files(unit)) if unit.exists() else None
        except FileNotFoundError:  # removed while listed (an old checkpoint being pruned)
            continue
        if present is None:
            continue
        expected = reference[unit_key(unit, out)]
        if not expected <= present and unit.exists():  # still there: a half-written unit was visible
            pytest.fail(f"{job.name}: {unit} visible without {sorted(expected - present)[:5]}")


def stale_temporaries(work: Path) -> list[str]:
    return [str(p) for p in work.rglob(".*") if p.name.endswith((".partial", ".tmp"))]


@pytest.fixture(scope="module")
def inputs(tiny_skyset, tiny):
    return {"tiny_skyset": tiny_skyset, "tiny_lit": tiny["tiny-lit"]}


@pytest.mark.parametrize("name", [j.name for j in jobs({"tiny_skyset": "", "tiny_lit": ""})])
def test_job_survives_sigkill_anywhere(name, forkserver, inputs, tmp_path):
    job = next(j for j in jobs(inputs) if j.name == name)
    work = tmp_path / "work"
    work.mkdir()
    if job.prepare:
        job.prepare(work, inputs)
    # the reference: uninterrupted, in the same directory (so absolute paths in outputs agree)
    ref_run = Run(forkserver, job, work, tmp_path / "ref.log")
    assert ref_run.watch(None, None) and ref_run.process.exitcode == 0, (tmp_path / "ref.log").read_text()[
        -3000:
    ]
    duration = time.perf_counter() - ref_run.started
    reference = unit_files(job, work / job.output)
    ref_out = tmp_path / "reference"
    os.replace(work / job.output, ref_out)
    for scratch in job.scratch:
        path = work / scratch
        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    shutil.rmtree(work / "hc-cache", ignore_errors=True)
    rng = random.Random(f"{SEED}:{name}")
    schedule = [round(rng.uniform(0.1, 0.85) * duration, 3) for _ in range(KILL_POINTS)]
    landed = 0
    for n, at in enumerate(schedule):
        run = Run(forkserver, job, work, tmp_path / f"kill-{n}.log")
        if not run.watch(at, reference):
            run.kill()
            landed += 1
            check_units(job, work, reference)
        else:
            assert run.process.exitcode == 0, (tmp_path / f"kill-{n}.log").read_text()[-3000:]
    final = Run(forkserver, job, work, tmp_path / "final.log")
    where = f"seed {SEED}, kills at {schedule} s of a {duration:.2f} s run"
    assert final.watch(None, reference), where
    assert final.process.exitcode == 0, f"{where}: {(tmp_path / 'final.log').read_text()[-3000:]}"
    result = job.equal(ref_out, work / job.output)
    assert not stale_temporaries(work), f"{where}: leftovers {stale_temporaries(work)}"
    print(
        f"\nkill-anywhere {name}: {landed}/{len(schedule)} kills landed in a {duration:.2f} s job; {result}"
    )


def test_disk_full_keeps_the_previous_output_and_says_so_once(forkserver, inputs, tmp_path):
    """A rebuild that hits a full disk (an RLIMIT_FSIZE child) fails with one clear line; the old
    output stays byte for byte, and no temporary file is left."""
    job = next(j for j in jobs(inputs) if j.name == "all-pairs neighbours")
    job.prepare(tmp_path, inputs)
    assert Run(forkserver, job, tmp_path, tmp_path / "first.log").watch(None, None)
    before = {name: p.read_bytes() for name, p in files(tmp_path / job.output).items()}
    log = tmp_path / "full.log"
    run = Run(forkserver, job, tmp_path, log, fsize=256 * 1024)  # the output needs ~19 MB
    assert run.watch(None, None)
    text = log.read_text()
    assert run.process.exitcode == 1, text[-2000:]
    errors = [line for line in text.splitlines() if "error:" in line]
    assert len(errors) == 1 and "File too large (disk full or file size limit)" in errors[0], text[-2000:]
    assert "Traceback" not in text
    assert {name: p.read_bytes() for name, p in files(tmp_path / job.output).items()} == before
    assert not stale_temporaries(tmp_path)
    print(f"\ndisk full: {errors[0].strip()}")


def test_readme_kill_table_lists_every_job():
    """The README's kill-anywhere table has one row per job of this harness."""
    text = README.read_text()
    table = text[text.index("<!-- kill-anywhere table -->") :].split("\n\n", 1)[0]
    rows = {
        line.split("|")[1].strip()
        for line in table.splitlines()
        if line.startswith("| ") and "---" not in line
    }
    assert rows - {"job"} == {j.name for j in jobs({"tiny_skyset": "", "tiny_lit": ""})}
