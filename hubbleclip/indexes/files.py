"""Size and sha256 of every file of an index, recorded at build time and checked after a copy."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            h.update(block)
    return h.hexdigest()


@dataclass(frozen=True)
class FileRecord:
    bytes: int
    sha256: str

    def to_dict(self) -> dict:
        return {"bytes": self.bytes, "sha256": self.sha256}

    @classmethod
    def from_dict(cls, d: dict) -> FileRecord:
        return cls(int(d["bytes"]), str(d["sha256"]))


def record_files(root: Path, skip: tuple[str, ...] = ()) -> dict[str, FileRecord]:
    """Every file under ``root`` but ``skip``, by its path relative to ``root`` (posix)."""
    out = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        name = path.relative_to(root).as_posix()
        if name not in skip:
            out[name] = FileRecord(path.stat().st_size, sha256_file(path))
    return out


def role(name: str) -> str:
    """What a file of an index is for, as an error message says it."""
    if name.startswith("model/"):
        return "the query encoder"
    if name.startswith("previews"):
        return "the image previews"
    if name.endswith(".npy"):
        return "an array"
    return "index data"


def file_problem(root: Path, name: str, record: FileRecord, deep: bool) -> str | None:
    """One line saying what is wrong with a recorded file (None: nothing).  ``deep`` also compares the
    sha256 (reads the whole file); otherwise only presence and size are checked."""
    path = root / name
    fix = "copy the whole index directory again, or rebuild the index"
    if not path.is_file():
        return f"{path}: missing ({role(name)}, {record.bytes} bytes, listed in the manifest); {fix}"
    size = path.stat().st_size
    if size != record.bytes:
        return (
            f"{path}: {size} bytes, the manifest recorded {record.bytes} ({role(name)}, truncated or "
            f"replaced); {fix}"
        )
    if deep and (digest := sha256_file(path)) != record.sha256:
        return (
            f"{path}: sha256 {digest[:12]}… differs from the manifest's {record.sha256[:12]}… "
            f"({role(name)}, changed after the build); {fix}"
        )
    return None


def shape_problem(path: Path, expected: list[int]) -> str | None:
    """One line when the .npy array at ``path`` does not have the ``expected`` shape."""
    try:
        shape = list(np.load(path, mmap_mode="r").shape)
    except (OSError, ValueError) as exc:
        return f"{path}: not a readable .npy array ({exc}); copy it again or rebuild the index"
    if shape != list(expected):
        return f"{path}: shape {shape}, the manifest says {list(expected)}; rebuild the index"
    return None
