"""Training batches from WebDataset shards (``--data.webdataset 'DIR/{00000..00009}.tar'``).

Epoch ``e`` shuffles the shard list with ``(seed, e)``.  Process ``p`` of ``P`` reads shards ``p,
p+P, ...`` of that order (webdataset's ``split_by_node``), and its DataLoader worker ``w`` of ``W``
every ``W``-th of those (``split_by_worker``): within an epoch each shard is read by exactly one
worker of one process, so no sample is seen twice.  A worker shuffles its samples in a buffer
seeded by ``(seed, e, p, w)`` and yields full local batches; the DataLoader takes them from its
workers in turn.  Every process takes the same number of batches per epoch, the smallest number
of full local batches any process has, computed from the shard sizes without communication, so
the processes stay in step (the remainder of an epoch is left out).

``resampled`` (open_clip's ``--dataset-resampled``) draws shards with replacement instead, seeded by
``(seed, e, p, w)``, for multi-epoch runs; an epoch is then nominal (all samples // global batch).

The batches are a function of the step alone, so a resumed run skips, in each worker, the raw
samples of the batches already trained (before decoding them) and then trains on the batches an
uninterrupted run would have.  A shard that cannot be read is skipped with a warning
(:mod:`hubbleclip.data.shards`); if a process then runs short in an epoch, it repeats that epoch's
batches to stay in step and logs that it did.
"""

from __future__ import annotations

import io
import itertools
import logging
import random
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from hubbleclip.data.load import caption_column
from hubbleclip.data.shards import (
    expand_shards,
    image_bytes,
    record,
    report_and_continue,
    shard_sizes,
    txt_column_of,
)
from hubbleclip.errors import UserError
from hubbleclip.training.config import TrainConfig
from hubbleclip.training.data import item_seed, seeded_transform, sentence_chunk

log = logging.getLogger(__name__)


def stream_seed(*parts: int) -> int:
    return int(np.random.SeedSequence(list(parts)).generate_state(1)[0])


@dataclass
class ShardPlan:
    """Which shards each worker of each process reads in each epoch, and how many batches that gives."""

    sizes: list[int]  # samples per shard, in the order of the pattern
    batch: int  # local batch: the global batch divided by the processes
    world: int
    rank: int
    workers: int  # DataLoader workers per process (at least 1: the process itself)
    seed: int
    resampled: bool = False

    def worker_shards(self, epoch: int, rank: int, worker: int) -> list[int]:
        order = np.random.default_rng([self.seed, epoch]).permutation(len(self.sizes))
        return [int(i) for i in order[rank :: self.world][worker :: self.workers]]

    def worker_batches(self, epoch: int, rank: int) -> list[int]:
        """Full batches each worker of ``rank`` yields in ``epoch`` (not resampled)."""
        return [
            sum(self.sizes[i] for i in self.worker_shards(epoch, rank, w)) // self.batch
            for w in range(self.workers)
        ]

    def steps(self, epoch: int) -> int:
        """Batches every process takes in ``epoch``."""
        if self.resampled:
            return sum(self.sizes) // (self.batch * self.world)
        return min(sum(self.worker_batches(epoch, p)) for p in range(self.world))

    def locate(self, batch_index: int) -> tuple[int, int]:
        """(epoch, batch within it) of the run's ``batch_index``-th batch."""
        epoch = 0
        while batch_index >= (steps := self.steps(epoch)):
            if steps == 0:
                break
            batch_index, epoch = batch_index - steps, epoch + 1
        return epoch, batch_index

    def skips(self, epoch: int, done: int) -> list[int]:
        """Batches each worker of this process contributed to the first ``done`` batches of ``epoch``:
        the DataLoader takes one from each worker in turn and passes over exhausted ones."""
        left = [10**18] * self.workers if self.resampled else self.worker_batches(epoch, self.rank)
        taken = [0] * self.workers
        cycle = itertools.cycle(range(self.workers))
        for _ in range(done):
            w = next(w for w in cycle if taken[w] < left[w])
            taken[w] += 1
        return taken


class WorkerStream(IterableDataset):
    """One epoch of one process's shards, read by each DataLoader worker: (pixels, caption, caption, url)
    batches.  ``skips[w]`` full batches of worker ``w`` are passed over before decoding."""

    def __init__(self, urls, plan: ShardPlan, epoch: int, skips: list[int], item: Callable, shuffle: int):
        self.urls, self.plan, self.epoch, self.skips = urls, plan, epoch, skips
        self.item, self.shuffle = item, shuffle

    def _shard_source(self, worker: int) -> Iterator[dict]:
        plan = self.plan
        if plan.resampled:
            rng = random.Random(stream_seed(plan.seed, self.epoch, plan.rank, worker, 1))
            while True:
                yield {"url": rng.choice(self.urls)}
        for i in plan.worker_shards(self.epoch, plan.rank, worker):
            yield {"url": self.urls[i]}

    def __iter__(self):
        import webdataset as wds

        info = get_worker_info()
        worker = info.id if info is not None else 0
        seed = stream_seed(self.plan.seed, self.epoch, self.plan.rank, worker)
        pipeline = wds.DataPipeline(
            partial(self._shard_source, worker),
            wds.tarfile_to_samples(handler=report_and_continue),
            wds.select(has_image),
            wds.shuffle(self.shuffle, min(self.shuffle, 100), seed=seed),
            partial(skip, count=self.skips[worker] * self.plan.batch),
            wds.map(partial(self.item, self.epoch)),
            wds.batched(self.plan.batch, collation_fn=collate_items, partial=False),
        )
        return iter(pipeline)


def has_image(sample: dict) -> bool:
    """Samples without an image (or cut short in a truncated shard) are left out, with a warning."""
    if image_bytes(sample) is not None:
        return True
    log.warning("webdataset: %s: sample %s has no image; left out", sample["__url__"], sample["__key__"])
    return False


def skip(samples: Iterator, count: int) -> Iterator:
    return itertools.islice(samples, count, None)


def collate_items(items):
    images, texts, captions, urls = zip(*items)
    return torch.stack(images), list(texts), list(captions), list(urls)


class SampleDecoder:
    """A raw sample -> (pixels, caption, caption, url), augmentation seeded by (seed, epoch, key)."""

    def __init__(self, transform, txt_column: str, captions: str, chunk_words: int, seed: int):
        self.transform, self.txt_column, self.captions = transform, txt_column, captions
        self.chunk_words, self.seed = chunk_words, seed

    def __call__(self, epoch: int, sample: dict):
        image = image_bytes(sample)
        fields = record(sample, self.txt_column)
        key = sample["__key__"]
        row = int(key) if key.isdigit() else zlib.crc32(key.encode())
        rng_seed = item_seed(self.seed, epoch, row)
        column = caption_column(list(fields), self.captions)
        if column is None:
            caption = sentence_chunk(
                fields.get("text") or "", self.chunk_words, np.random.default_rng(rng_seed)
            )
        else:
            caption = fields[column]
        with Image.open(io.BytesIO(image[1])) as img:
            pixels = seeded_transform(self.transform, img, rng_seed)
        return pixels, caption, caption, sample["__url__"]


class ShardBatches:
    """This process's training batches from shards, from run batch ``start`` to ``stop``.

    ``on_epoch(epoch, shards, samples)`` is called by every process (it may gather) when an epoch
    or the run ends, with the shards this process read in it and the samples it trained on."""

    def __init__(self, cfg: TrainConfig, transform, world: int, rank: int):
        data = cfg.data
        self.urls = expand_shards(data.webdataset)
        if len(self.urls) < world and not data.resampled:
            raise UserError(
                f"data.webdataset: {len(self.urls)} shards cannot feed {world} processes; "
                "export with a smaller shard_size or use data.resampled true"
            )
        self.sizes = shard_sizes(self.urls)
        batch = cfg.optim.batch_size // world
        self.plan = ShardPlan(
            self.sizes, batch, world, rank, max(1, data.num_workers), cfg.seed, data.resampled
        )
        self.num_workers, self.shuffle = data.num_workers, data.shuffle_buffer
        self.decoder = SampleDecoder(
            transform, txt_column_of(self.urls), data.captions, data.chunk_words, cfg.seed
        )

    @property
    def n_samples(self) -> int:
        return sum(self.sizes)

    def _loader(self, epoch: int, skips: list[int]) -> Iterator:
        stream = WorkerStream(self.urls, self.plan, epoch, skips, self.decoder, self.shuffle)
        return iter(DataLoader(stream, batch_size=None, num_workers=self.num_workers))

    def batches(
        self, start: int, stop: int, on_epoch: Callable[[int, int, list[str], int], None]
    ) -> Iterator:
        """Batches ``start`` to ``stop`` of the run (``on_epoch`` is called before the last one of each
        epoch and of the run is handed out, so that it runs in every process at the same batch)."""
        epoch, done = self.plan.locate(start)
        index = start
        while index < stop:
            steps = self.plan.steps(epoch)
            if steps == 0:
                raise UserError(
                    f"data.webdataset: epoch {epoch} gives a process no full batch of {self.plan.batch} "
                    f"({self.n_samples} samples in {len(self.urls)} shards); "
                    "use smaller batches or more shards"
                )
            shards, samples, fresh = set(), 0, True
            loader = self._loader(epoch, self.plan.skips(epoch, done))
            while done < steps and index < stop:
                batch = next(loader, None)
                if batch is None:  # unreadable shards made this process short: go round again
                    if fresh:
                        raise UserError(
                            f"data.webdataset: process {self.plan.rank} could read no batch in epoch {epoch}"
                        )
                    log.warning(
                        "webdataset: process %d ran out after %d of %d batches in epoch %d "
                        "(unreadable shards, see above); repeating its batches of this epoch",
                        self.plan.rank,
                        done,
                        steps,
                        epoch,
                    )
                    loader, fresh = self._loader(epoch, [0] * self.plan.workers), True
                    continue
                images, texts, captions, urls = batch
                shards.update(urls)
                samples, fresh = samples + len(captions), False
                done, index = done + 1, index + 1
                if done == steps or index == stop:
                    on_epoch(epoch, index, sorted(shards), samples)
                yield images, texts, captions
            epoch, done = epoch + 1, 0
