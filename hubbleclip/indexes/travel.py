"""The manifest section that lets an index move: its model reference, its files' sizes and digests
and its preview count.  ``problems`` is what ``hubbleclip index check`` and every load run."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hubbleclip.errors import UserError
from hubbleclip.indexes.files import FileRecord, file_problem, record_files
from hubbleclip.indexes.model import MODEL_DIR, ModelMismatchError, ModelRef, load_checked
from hubbleclip.indexes.previews import BIN, MAX_SIDE, OFFSETS, QUALITY, TABLE, Previews

log = logging.getLogger(__name__)


class IndexFilesError(UserError):
    """A file of a relocatable index is missing or differs from its manifest."""


@dataclass(frozen=True)
class Travel:
    model: ModelRef
    files: dict[str, FileRecord]
    n_previews: int

    def to_dict(self) -> dict:
        return {
            "model": self.model.to_dict(),
            "previews": {
                "count": self.n_previews,
                "file": BIN,
                "max_side": MAX_SIDE,
                "webp_quality": QUALITY,
            },
            "files": {name: r.to_dict() for name, r in self.files.items()},
        }

    @classmethod
    def from_dict(cls, d: dict) -> Travel:
        files = {name: FileRecord.from_dict(r) for name, r in d["files"].items()}
        return cls(ModelRef.from_dict(d["model"]), files, int(d["previews"]["count"]))

    @classmethod
    def record(cls, root: Path, model: ModelRef, n_previews: int, manifest: str) -> Travel:
        """The section for the index written in ``root`` (every file but the ``manifest``)."""
        return cls(model, record_files(root, skip=(manifest,)), n_previews)

    def problems(
        self, root: Path, deep: bool = False, load: Callable[[str], object] | None = None, model: str = ""
    ) -> list[str]:
        """One line per missing or changed file (``deep``: sha256 too, else presence and size), and
        with ``load`` (spec -> encoder) one for a model whose weights are not the index's (the
        index's own, or ``model``)."""
        found, of_model = self._file_problems(root, deep)
        if not model and (missing := self.model.missing(root)):
            return [*found, missing]
        if model:
            of_model = []  # the copy in the index is not used
        if load is None:
            return found + of_model
        try:
            load_checked(self.model, root, load, model or None)
        except ModelMismatchError as exc:
            return [*found, str(exc)]
        except Exception as exc:  # a damaged model: its files say why
            return found + (of_model or [f"model {model or self.model.resolve(root)}: unreadable ({exc})"])
        return found + of_model

    def _file_problems(self, root: Path, deep: bool) -> tuple[list[str], list[str]]:
        """(problems of the data files and previews, problems of the packed model's files);
        ``deep`` also reads the previews' table."""
        found, of_model = [], []
        for name, record in self.files.items():
            if problem := file_problem(root, name, record, deep):
                (of_model if name.startswith(f"{MODEL_DIR}/") else found).append(problem)
        if deep and not any(BIN in p or OFFSETS in p or TABLE in p for p in found):
            try:
                n = len(Previews(root))
            except (OSError, ValueError) as exc:
                found.append(f"{root / BIN}: unreadable previews ({exc}); rebuild the index")
            else:
                if n != self.n_previews:
                    found.append(f"{root / TABLE}: {n} previews, the manifest says {self.n_previews}")
        return found, of_model

    def require(self, root: Path) -> None:
        """Raise IndexFilesError with the first missing or resized data file (the model is checked
        by its digest when it is loaded)."""
        found = self._file_problems(root, deep=False)[0]
        if found:
            more = (
                f" (and {len(found) - 1} more; run `hubbleclip index check {root}`)" if len(found) > 1 else ""
            )
            raise IndexFilesError(found[0] + more)


def warn_not_relocatable(path: Path, rebuild: str) -> None:
    """The one-line note for an index written before indexes carried their model and previews."""
    log.warning(
        "%s: an index in the old format (absolute paths of the machine that built it; reads the "
        "dataset at serve time): it works only where it was built; rebuild it with `%s` to make it "
        "relocatable",
        path,
        rebuild,
    )
