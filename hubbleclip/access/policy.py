"""Who may see which rows, decided at query time from each row's release date and program.

Every index keeps an :class:`AccessTable` (release day and program of each of its rows).  One
:class:`AccessPolicy` with a clock turns a table and a :class:`Viewer` into a boolean mask over the
rows; searches, neighbours, clusters, counts and image bytes are computed over that mask only, so a
row becomes visible the day its proprietary period ends, without rebuilding anything.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from hubbleclip.errors import UserError

EPOCH = dt.date(1970, 1, 1)
PUBLIC = np.iinfo(np.int32).min  # release day of a row without a release date
_MASKS_PER_TABLE = 16


@dataclass(frozen=True)
class Viewer:
    """The caller: anonymous (public rows only), a token naming programs, or everything."""

    programs: frozenset[str] = frozenset()
    everything: bool = False
    name: str = "anonymous"

    @property
    def key(self) -> tuple:
        return (self.everything, tuple(sorted(self.programs)))


ANONYMOUS = Viewer()
EVERYTHING = Viewer(everything=True, name="all")


def parse_access(text: str) -> Viewer:
    """The CLI's ``--access``: ``public`` (the default), ``all``, or comma-separated program ids."""
    text = (text or "public").strip()
    if text == "public":
        return ANONYMOUS
    if text == "all":
        return EVERYTHING
    programs = frozenset(p.strip() for p in text.split(",") if p.strip())
    if not programs:
        raise UserError(f"--access: expected public, all or program ids (e.g. 11360,12498), got {text!r}")
    return Viewer(programs=programs, name=f"programs {','.join(sorted(programs))}")


def to_day(value) -> int:
    """Days since 1970-01-01 of a date (or ``YYYY-MM-DD``); :data:`PUBLIC` for None/empty."""
    if value is None or value == "":
        return int(PUBLIC)
    if isinstance(value, str):
        value = dt.date.fromisoformat(value[:10])
    if isinstance(value, dt.datetime):
        value = value.date()
    return (value - EPOCH).days


def utc_today() -> dt.date:
    return dt.datetime.now(dt.timezone.utc).date()


class AccessTable:
    """Release day (int32 days since 1970, :data:`PUBLIC` when none) and program code of each row."""

    def __init__(self, release_day: np.ndarray, program_code: np.ndarray, programs: list[str]):
        self.release_day = np.asarray(release_day, np.int32)
        self.program_code = np.asarray(program_code, np.int32)  # 0 = no program
        self.programs = list(programs)  # code -> id; programs[0] is ""
        if self.release_day.shape != self.program_code.shape:
            raise ValueError("access table: release days and programs differ in length")
        self.all_public = bool((self.release_day == PUBLIC).all())
        self._code = {p: i for i, p in enumerate(self.programs)}
        self._masks: dict[tuple, np.ndarray] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_rows(cls, release_dates: Iterable, program_ids: Iterable) -> AccessTable:
        """From per-row release dates (date, ``YYYY-MM-DD`` or None) and program ids (str or None)."""
        days = np.array([to_day(d) for d in release_dates], np.int32)
        ids = ["" if p is None else str(p) for p in program_ids]
        programs = ["", *sorted(set(ids) - {""})]
        code = {p: i for i, p in enumerate(programs)}
        return cls(days, np.array([code[p] for p in ids], np.int32), programs)

    @classmethod
    def public(cls, n: int) -> AccessTable:
        return cls(np.full(n, PUBLIC, np.int32), np.zeros(n, np.int32), [""])

    def __len__(self) -> int:
        return len(self.release_day)

    def release_date(self, row: int) -> dt.date | None:
        day = int(self.release_day[row])
        return None if day == PUBLIC else EPOCH + dt.timedelta(days=day)

    def program(self, row: int) -> str | None:
        return self.programs[int(self.program_code[row])] or None

    def subset(self, rows: np.ndarray) -> AccessTable:
        return AccessTable(self.release_day[rows], self.program_code[rows], self.programs)

    def disagreements(self, other: AccessTable) -> np.ndarray:
        """Rows whose release day or program differs from the same row of ``other`` (two tables
        over the same rows, e.g. two indexes of one dataset)."""
        if len(other) != len(self):
            raise ValueError(f"access tables of {len(self)} and {len(other)} rows cannot be compared")
        mine = np.asarray(self.programs, object)[self.program_code]
        theirs = np.asarray(other.programs, object)[other.program_code]
        return np.flatnonzero((self.release_day != other.release_day) | (mine != theirs))

    def mask(self, viewer: Viewer, today: int) -> np.ndarray:
        """Read-only boolean mask of the rows ``viewer`` may see on day ``today`` (cached)."""
        key = (viewer.key, today)
        with self._lock:
            cached = self._masks.get(key)
        if cached is not None:
            return cached
        if viewer.everything or self.all_public:
            mask = np.ones(len(self), bool)
        else:
            mask = self.release_day <= today  # PUBLIC is the smallest int32: always released
            codes = [self._code[p] for p in viewer.programs if p in self._code and p]
            if codes:
                mask |= np.isin(self.program_code, codes)
        mask.setflags(write=False)
        with self._lock:
            if len(self._masks) >= _MASKS_PER_TABLE:
                self._masks.pop(next(iter(self._masks)))
            self._masks[key] = mask
        return mask


class AccessPolicy:
    """The one rule of visibility: a row is visible when it has no release date, when its release
    date (UTC) is today or earlier, when the viewer may see everything, or when the viewer's token
    names the row's program.  ``clock`` returns today's UTC date (injected in tests)."""

    def __init__(self, clock: Callable[[], dt.date] = utc_today):
        self.clock = clock

    def today(self) -> int:
        return to_day(self.clock())

    def visible(self, table: AccessTable, viewer: Viewer) -> np.ndarray:
        return table.mask(viewer, self.today())

    def rows(self, table: AccessTable, viewer: Viewer) -> np.ndarray:
        """Indices of the visible rows, in order."""
        return np.flatnonzero(self.visible(table, viewer))
