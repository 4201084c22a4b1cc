"""Values built once per visibility mask: a caller's restricted name table, BM25 statistics, ...

A mask (:meth:`hubbleclip.access.policy.AccessPolicy.visible`) changes only with the day or the
token scope, so the few masks in use at once each keep what was built over their rows.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

import numpy as np

T = TypeVar("T")


class MaskKeyedCache(Generic[T]):
    """``get(visible)`` returns ``build(visible)``, built on the first call with that mask and kept
    for the ``keep`` most recently built masks (the oldest is dropped first).  Thread-safe: the web
    server answers from several threads, and a value is built once even when two ask at once."""

    def __init__(self, build: Callable[[np.ndarray], T], keep: int = 8):
        if keep < 1:
            raise ValueError(f"keep must be at least 1, got {keep}")
        self.build, self.keep = build, keep
        self._values: dict[bytes, T] = {}
        self._lock = threading.Lock()

    @staticmethod
    def key(visible: np.ndarray) -> bytes:
        mask = np.asarray(visible, bool)
        return hashlib.sha256(len(mask).to_bytes(8, "little") + np.packbits(mask).tobytes()).digest()

    def get(self, visible: np.ndarray) -> T:
        key = self.key(visible)
        with self._lock:
            if key not in self._values:
                if len(self._values) >= self.keep:
                    self._values.pop(next(iter(self._values)))
                self._values[key] = self.build(visible)
            return self._values[key]

    def __len__(self) -> int:
        return len(self._values)
