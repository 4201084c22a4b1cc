import hashlib
import json
import logging
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from accelerate_launch import two_processes

from hubbleclip.cli import main
from hubbleclip.config import load_config
from hubbleclip.data.load import encoded_images, load_split
from hubbleclip.data.shards import expand_shards, raw_samples, shards_to_dataset
from hubbleclip.evaluation import EvalConfig, run_evaluation
from hubbleclip.models import load_model
from hubbleclip.training import TrainConfig, train
from hubbleclip.training.data import imaged_split
from hubbleclip.training.shards import ShardBatches, ShardPlan

SHARD_SIZE = 4


def pattern(root, split="train") -> str:
    n = len(list((Path(root) / split).glob("*.tar")))
    return f"{root}/{split}/{{00000..{n - 1:05d}}}.tar"


@pytest.fixture(scope="module")
def shards(tiny_skyset, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wds") / "shards"
    args = ["data", "export", "--format", "webdataset", "--dataset", tiny_skyset, "--out", str(out)]
    assert main([*args, "--shard_size", str(SHARD_SIZE)]) == 0
    return out


def config(tiny, shard_dir, run_dir, **overrides) -> TrainConfig:
    base = {
        "out": str(run_dir),
        "model.spec": tiny["tiny-open_clip"],
        "data.webdataset": pattern(shard_dir),
        "data.val_webdataset": pattern(shard_dir, "val"),
        "optim.batch_size": 4,
        "optim.max_steps": 6,
        "log_every": 1,
        "eval.every_steps": 6,
        "eval.batch_size": 3,
        "eval.top_k": 2,
        "checkpoint.every_steps": 3,
        "freeze.cache_dir": str(Path(run_dir).parent / "cache"),
        "threads": 2,
    }
    return load_config(TrainConfig, None, {**base, **overrides})


def records(run_dir, key):
    rows = [json.loads(line) for line in (Path(run_dir) / "metrics.jsonl").read_text().splitlines()]
    return [r for r in rows if key in r]


def digest(tensor) -> str:
    return hashlib.sha1(tensor.numpy().tobytes()).hexdigest()


def test_skyset_to_shards_to_training_gives_the_same_pairs(tiny, tiny_skyset, shards, tmp_path):
    train_rows = imaged_split(tiny_skyset, "train")
    # the shards hold every imaged row: same image bytes, caption and fields
    back = shards_to_dataset(pattern(shards))
    assert len(back) == len(train_rows) and len(expand_shards(pattern(shards))) == -(-len(back) // SHARD_SIZE)
    assert [e["bytes"] for e in encoded_images(back)] == [e["bytes"] for e in encoded_images(train_rows)]
    for column in ("id", "caption", "object_id", "type", "names"):
        assert back[column] == train_rows[column]
    assert np.allclose(back["mag"], train_rows["mag"], equal_nan=True)
    # the training stream, augmentations off, yields each pair once per epoch
    model = load_model(tiny["tiny-open_clip"])
    transform = model.image_transform(train=False)
    cfg = config(tiny, shards, tmp_path / "unused", **{"optim.batch_size": 1, "data.num_workers": 2})
    stream = ShardBatches(cfg, transform, world=1, rank=0)
    steps = stream.plan.steps(0)
    assert steps == len(train_rows)
    got = Counter(
        (captions[0], digest(images[0])) for images, _, captions in stream.batches(0, steps, lambda *a: None)
    )
    expected = Counter((row["caption"], digest(transform(row["image"]))) for row in train_rows)
    assert got == expected


def test_shards_split_over_processes_and_workers_without_repeats(tiny, shards):
    model = load_model(tiny["tiny-open_clip"])
    cfg = config(tiny, shards, "unused", **{"optim.batch_size": 2, "data.num_workers": 2})
    seen, read = [], []
    for rank in (0, 1):  # what each of two processes reads, 2 DataLoader workers each
        stream = ShardBatches(cfg, model.image_transform(train=False), world=2, rank=rank)
        steps = stream.plan.steps(0)
        batches = stream.batches(0, steps, lambda e, i, shards, n: read.append(set(shards)))
        seen.append([(c, digest(img)) for images, _, caps in batches for c, img in zip(caps, images)])
    assert len(seen[0]) == len(seen[1]) == steps  # the same number of local batches of 1
    assert read[0].isdisjoint(read[1])
    assert len(set(seen[0] + seen[1])) == 2 * steps  # no pair twice in the epoch
    # the plan: each shard to exactly one worker of one process per epoch, reshuffled per epoch
    plan = ShardPlan([4] * 9, batch=2, world=2, rank=0, workers=2, seed=0)
    for epoch in (0, 1):
        owned = [plan.worker_shards(epoch, p, w) for p in (0, 1) for w in (0, 1)]
        assert sorted(i for o in owned for i in o) == list(range(9))
    assert plan.worker_shards(0, 0, 0) != plan.worker_shards(1, 0, 0)
    assert plan.steps(0) == 8  # process 1: 4 shards = 8 batches; process 0 leaves out 2 of its 10
    assert plan.skips(0, 3) == [2, 1]  # the DataLoader takes from its workers in turn
    # resampled: shards drawn with replacement, a nominal epoch of all samples // global batch
    resampled = ShardBatches(
        load_config(TrainConfig, None, {**_flat(cfg), "data.resampled": True}), None, 2, 0
    )
    assert resampled.plan.steps(0) == resampled.n_samples // cfg.optim.batch_size


def _flat(cfg: TrainConfig) -> dict:
    return {
        "data.webdataset": cfg.data.webdataset,
        "optim.batch_size": cfg.optim.batch_size,
        "model.spec": cfg.model.spec,
    }


def test_training_from_shards_resumes_mid_epoch_and_skips_a_corrupt_shard(tiny, shards, tmp_path, caplog):
    whole = config(tiny, shards, tmp_path / "whole", **{"data.num_workers": 2})
    train(whole)
    half = config(tiny, shards, tmp_path / "resumed", **{"data.num_workers": 2, "optim.max_steps": 3})
    train(half)  # checkpoint at step 3, in the middle of epoch 0
    train(config(tiny, shards, tmp_path / "resumed", **{"data.num_workers": 2, "resume": "latest"}))
    losses = [[(r["step"], r["loss"]) for r in records(d, "loss")] for d in (whole.out, half.out)]
    assert [s for s, _ in losses[0]] == [s for s, _ in losses[1]] == list(range(1, 7))
    np.testing.assert_allclose([v for _, v in losses[1]], [v for _, v in losses[0]], rtol=1e-6)
    assert records(whole.out, "val_loss")  # validation from the val shards

    bad = tmp_path / "bad"
    for split in ("train", "val"):
        (bad / split).mkdir(parents=True)
        for f in (shards / split).iterdir():
            (bad / split / f.name).write_bytes(f.read_bytes())
    broken = bad / "train" / "00001.tar"
    broken.write_bytes(broken.read_bytes()[: broken.stat().st_size // 2])  # a copy cut short
    with caplog.at_level(logging.WARNING, logger="hubbleclip"):
        result = train(config(tiny, bad, tmp_path / "bad-run", **{"data.webdataset": pattern(bad)}))
    assert np.isfinite(result["loss"]) and Path(result["export"]).is_dir()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("unreadable data in" in w and str(broken) in w for w in warnings), warnings
    assert any("repeating its batches" in w for w in warnings), warnings


def test_evaluation_reads_shards_like_the_split(tiny, tiny_skyset, shards, tmp_path):
    common = {
        "models": [f"tiny={tiny['tiny-lit']}"],
        "tasks": ["retrieval"],
        "cache_dir": str(tmp_path / "cache"),
        "bootstrap.samples": 20,
    }
    from_split = run_evaluation(
        load_config(EvalConfig, None, {**common, "split": "test", "dataset": tiny_skyset})
    )
    from_shards = run_evaluation(
        load_config(EvalConfig, None, {**common, "webdataset": pattern(shards, "test")})
    )
    assert from_shards["dataset"]["n_images"] == from_split["dataset"]["n_images"] > 0
    assert from_shards["retrieval"]["models"] == from_split["retrieval"]["models"]


def test_export_is_atomic_per_shard_and_resumes(tiny_skyset, shards, tmp_path):
    out = tmp_path / "again"
    for f in (shards / "train").iterdir():  # an export interrupted while it wrote shard 2
        if f.name not in ("00002.tar", "00003.tar", "sizes.json"):
            (out / "train").mkdir(parents=True, exist_ok=True)
            (out / "train" / f.name).write_bytes(f.read_bytes())
    (out / "train" / ".00002.tar.123.partial").write_bytes(b"half a shard")
    args = ["data", "export", "--dataset", tiny_skyset, "--out", str(out), "--splits", "train"]
    assert main([*args, "--shard_size", str(SHARD_SIZE)]) == 0
    assert sorted(p.name for p in (out / "train").iterdir()) == sorted(
        p.name for p in (shards / "train").iterdir()
    )
    for name in ("00002.tar", "00003.tar"):
        a, b = (list(raw_samples([str(d / "train" / name)])) for d in (out, shards))
        assert [{k: v for k, v in s.items() if k != "__url__"} for s in a] == [
            {k: v for k, v in s.items() if k != "__url__"} for s in b
        ]
    assert json.loads((out / "train" / "sizes.json").read_text()) == json.loads(
        (shards / "train" / "sizes.json").read_text()
    )
    with pytest.raises(FileExistsError, match="other settings"):
        main(["-v", *args, "--shard_size", "3"])
    # open_clip_train's CSV: tab-separated filepath/title, images beside it
    csv_out = tmp_path / "csv"
    assert main(["data", "export", "--format", "csv", "--dataset", tiny_skyset, "--out", str(csv_out)]) == 0
    table = pd.read_csv(csv_out / "train.csv", sep="\t")
    assert table["title"].tolist() == imaged_split(tiny_skyset, "train")["caption"]
    assert all(Path(p).is_file() for p in table["filepath"])
    assert len(load_split(tiny_skyset, "train")) > len(table)  # catalog-only rows have no image to export


@pytest.mark.slow
def test_two_processes_read_disjoint_shards(tiny, shards, tmp_path):
    run = tmp_path / "two"
    cfg = config(tiny, shards, run)
    args = [
        f"--out={run}",
        f"--model.spec={tiny['tiny-open_clip']}",
        f"--data.webdataset={cfg.data.webdataset}",
        f"--data.val_webdataset={cfg.data.val_webdataset}",
        "--optim.batch_size=4",
        "--optim.max_steps=4",
        "--log_every=1",
        "--eval.every_steps=4",
        "--eval.batch_size=3",
        "--eval.top_k=2",
        "--checkpoint.every_steps=4",
        f"--freeze.cache_dir={tmp_path / 'cache'}",
        "--threads=1",
    ]
    out = two_processes("training/train.py", args)
    assert out.returncode == 0, out.stderr[-3000:]
    assert records(run, "event")[0]["processes"] == 2
    epochs = [r for r in records(run, "event") if r["event"] == "webdataset_epoch"]
    assert epochs and all(len(r["shards_per_process"]) == 2 for r in epochs)
    for r in epochs:
        first, second = (set(s) for s in r["shards_per_process"])
        assert first and second and first.isdisjoint(second)
        assert r["samples_per_process"][0] == r["samples_per_process"][1]
    assert sum(r["samples_per_process"][0] for r in epochs) == 4 * 2  # 4 steps of 2 pairs per process
    assert records(run, "val_loss") and (run / "export").is_dir()
