"""Image-text pairs for training: which rows, which text, which batches, in which order.

Everything random about one example (its augmentation, its text chunk) is seeded by
``(seed, epoch, row)``, and batch ``m`` of the run is a fixed slice of epoch ``m // per_epoch``'s
permutation.  So the data do not depend on worker processes, on how many training processes
share a batch, or on whether the run was resumed: a resumed run sees exactly the same batches.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import datasets
import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from hubbleclip.data.load import imaged_rows, load_split
from hubbleclip.errors import UserError

_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+")


def imaged_split(path: str, split: str, limit: int = 0) -> datasets.Dataset:
    """The rows of a saved split that have an image (the first ``limit`` of them, 0 = all)."""
    ds = load_split(path, split)
    rows = imaged_rows(ds)
    return ds.select(rows[:limit] if limit else rows)


def sentence_chunk(text: str, max_words: int, rng: np.random.Generator) -> str:
    """A random run of whole sentences of at most ``max_words`` words
    (the first sentence is cut if longer)."""
    sentences = [s for s in _SENTENCE_END.split(text.strip()) if s]
    if not sentences:
        return ""
    start = int(rng.integers(len(sentences)))
    words: list[str] = []
    for sentence in sentences[start:]:
        sw = sentence.split()
        if words and len(words) + len(sw) > max_words:
            break
        words.extend(sw)
    return " ".join(words[:max_words])


def item_seed(seed: int, epoch: int, row: int) -> int:
    return int(np.random.SeedSequence([seed, epoch, row]).generate_state(1)[0])


def seeded_transform(transform, image, seed: int) -> torch.Tensor:
    """``transform(image)`` with its random draws seeded by ``seed`` (the global RNG left as it was)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return transform(image)


class PairDataset(Dataset):
    """``dataset[(epoch, row)] -> (image tensor or cached feature, caption or cached feature, caption)``."""

    def __init__(
        self,
        ds,
        captions: list[str] | None,
        texts: list[str] | None,
        transform,
        seed: int,
        chunk_words: int = 77,
        image_feats: torch.Tensor | None = None,
        text_feats: torch.Tensor | None = None,
    ):
        self.images = ds.select_columns(["image"])
        self.captions, self.texts, self.transform = captions, texts, transform
        self.seed, self.chunk_words = seed, chunk_words
        self.image_feats, self.text_feats = image_feats, text_feats

    def __len__(self) -> int:
        return len(self.images)

    def caption(self, epoch: int, row: int) -> str:
        if self.captions is not None:
            return self.captions[row]
        return sentence_chunk(
            self.texts[row], self.chunk_words, np.random.default_rng(item_seed(self.seed, epoch, row))
        )

    def __getitem__(self, key: tuple[int, int]):
        epoch, row = key
        caption = self.caption(epoch, row)
        if self.image_feats is not None:
            image = self.image_feats[row]
        else:
            image = seeded_transform(
                self.transform, self.images[row]["image"], item_seed(self.seed, epoch, row)
            )
        text = self.text_feats[row] if self.text_feats is not None else caption
        return image, text, caption


def collate(items):
    images, texts, captions = zip(*items)
    texts = torch.stack(texts) if isinstance(texts[0], torch.Tensor) else list(texts)
    return torch.stack(images), texts, list(captions)


class BatchPlan(Sampler):
    """This process's share of global batches ``start, start+1, ...``: lists of ``(epoch, row)`` keys."""

    def __init__(
        self,
        n_rows: int,
        batch_size: int,
        world: int,
        rank: int,
        seed: int,
        start: int = 0,
        stop: int | None = None,
    ):
        if batch_size % world:
            raise UserError(f"optim.batch_size={batch_size} must be divisible by the {world} processes")
        if n_rows < batch_size:
            raise UserError(f"optim.batch_size={batch_size} is larger than the {n_rows} training pairs")
        self.n_rows, self.batch_size, self.world, self.rank, self.seed = n_rows, batch_size, world, rank, seed
        self.per_epoch = n_rows // batch_size  # the last partial batch of an epoch is dropped
        self.start, self.stop = start, stop

    def global_batch(self, m: int) -> tuple[int, np.ndarray]:
        epoch, j = divmod(m, self.per_epoch)
        perm = np.random.default_rng([self.seed, epoch]).permutation(self.n_rows)
        return epoch, perm[j * self.batch_size : (j + 1) * self.batch_size]

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        local = self.batch_size // self.world
        m = self.start
        while self.stop is None or m < self.stop:
            epoch, rows = self.global_batch(m)
            yield [(epoch, int(r)) for r in rows[self.rank * local : (self.rank + 1) * local]]
            m += 1

    def __len__(self) -> int:
        if self.stop is None:
            raise TypeError("an open-ended plan has no length")
        return self.stop - self.start
