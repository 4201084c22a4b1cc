"""STScI's HST proposal abstracts catalogue (``abstracts.cat``) and the cycles taken from it.

The catalogue (linked from https://archive.stsci.edu/hst/proposal_abstracts.html, and what
PAPERCLIP reads) is one text file of records separated by rules of dashes.  Each record opens
with ``Key: value`` lines, a title that may wrap onto further lines, then the abstract after the
PI line::

    Prop. Type:   GO
    Category:     STELLAR PHYSICS
    ID:           14500
    Cycle:        25
    Title:        A title that can wrap
                  onto a second line
    PI:           Jane Roe

    The abstract, wrapped over many lines ...
    ------------------------------------------------------------------------

Once the abstract has started, a line that looks like a key is abstract text.  Engineering and
calibration programs leave ``Category`` empty, and some old records have no cycle.
"""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass
from pathlib import Path

from hubbleclip.archives.client import ArchiveClient
from hubbleclip.errors import UserError

SERVICE = "stsci"
_KEYS = {
    "Prop. Type": "prop_type",
    "Category": "category",
    "ID": "id",
    "Cycle": "cycle",
    "Title": "title",
    "PI": "pi",
}
_KEY_LINE = re.compile(r"^(Prop\. Type|Category|ID|Cycle|Title|PI):\s*(.*)$")
_RULE = re.compile(r"^-{5,}$")
_CYCLE_PART = re.compile(r"^(\d+)(?:\s*-\s*(\d+))?$")
CYCLES_HELP = "write a cycle (25), a range (25-26) or a list (24,26 or 1-3,7)"


@dataclass(frozen=True)
class Abstract:
    """One record of the catalogue."""

    proposal_id: int
    cycle: int | None
    title: str
    pi: str
    prop_type: str  # GO, SNAP, GTO, CAL/ACS, ENG/STIS/PAR, ...
    category: str  # the science category, e.g. GALAXIES; empty for engineering programs
    abstract: str

    def info(self) -> dict[str, str]:
        """The fields a Phase II file gives (see ``hst.parse_phase2``); its ``category`` is the
        program type."""
        cycle = "" if self.cycle is None else str(self.cycle)
        return {
            "title": self.title,
            "abstract": self.abstract,
            "category": self.prop_type,
            "cycle": cycle,
            "pi": self.pi,
        }


def parse_cycles(spec: str) -> list[int]:
    """``"25-26"`` -> [25, 26]; ``"24,26"`` -> [24, 26]; ``"1-3,7"`` -> [1, 2, 3, 7]."""
    cycles: set[int] = set()
    for part in str(spec).split(","):
        m = _CYCLE_PART.match(part.strip())
        if not m or (m.group(2) and int(m.group(2)) < int(m.group(1))):
            raise UserError(f"cycles: cannot read {part.strip()!r} of {spec!r}; {CYCLES_HELP}")
        first = int(m.group(1))
        cycles.update(range(first, int(m.group(2) or first) + 1))
    return sorted(cycles)


def _record(fields: dict[str, str], abstract: list[str]) -> Abstract | None:
    pid = fields.get("id", "").strip()
    if not pid.isdigit():
        return None  # a header or a damaged record: nothing to key it by
    cycle = fields.get("cycle", "").strip()
    return Abstract(
        proposal_id=int(pid),
        cycle=int(cycle) if cycle.isdigit() else None,
        title=" ".join(fields.get("title", "").split()),
        pi=fields.get("pi", "").strip(),
        prop_type=fields.get("prop_type", "").strip(),
        category=fields.get("category", "").strip(),
        abstract=" ".join(" ".join(abstract).split()),
    )


def parse_catalogue(text: str) -> list[Abstract]:
    """Every record with an integer ID, in file order (the first of a repeated ID wins)."""
    records: dict[int, Abstract] = {}
    fields: dict[str, str] = {}
    abstract: list[str] = []
    last = None  # the key a continuation line belongs to; "abstract" once past the PI line

    def close() -> None:
        record = _record(fields, abstract)
        if record is not None:
            records.setdefault(record.proposal_id, record)
        fields.clear()
        abstract.clear()

    for raw in text.splitlines():
        line = raw.strip()
        if _RULE.match(line):
            close()
            last = None
            continue
        key = _KEY_LINE.match(line) if last != "abstract" else None
        if key:
            last = _KEYS[key.group(1)]
            fields[last] = key.group(2)
        elif not line:
            continue
        elif last in ("pi", "abstract"):
            last = "abstract"
            abstract.append(line)
        elif last:
            fields[last] += " " + line
    close()
    return list(records.values())


def decode(body: bytes) -> str:
    """The catalogue's text, gunzipped if need be; UTF-8, else Latin-1 (older records)."""
    if body[:2] == b"\x1f\x8b":
        body = gzip.decompress(body)
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return body.decode("latin-1")


def _checked(records: list[Abstract], where: str) -> list[Abstract]:
    if not records:
        raise UserError(
            f"{where}: no proposal records (expected 'ID:', 'Cycle:', 'Title:', 'PI:' lines and the "
            "abstract, records separated by lines of dashes, as in STScI's abstracts.cat)"
        )
    return records


def read_catalogue(path: str | Path) -> list[Abstract]:
    path = Path(path).expanduser()
    if not path.is_file():
        raise UserError(
            f"abstracts_file: {path} does not exist (download abstracts.cat, or unset it to list online)"
        )
    return _checked(parse_catalogue(decode(path.read_bytes())), f"abstracts_file {path}")


async def fetch_catalogue(client: ArchiveClient, url: str) -> list[Abstract]:
    """The catalogue at ``url``, through the polite client (so it is cached for a rerun)."""
    resp = await client.fetch(SERVICE, url)
    if not resp.ok:
        raise UserError(
            f"abstracts_url: {url} answered HTTP {resp.status}; set abstracts_file=PATH to a copy"
        )
    return _checked(parse_catalogue(decode(resp.body)), f"abstracts_url {url}")


def of_cycles(records: list[Abstract], cycles: list[int]) -> list[Abstract]:
    wanted = set(cycles)
    return [r for r in records if r.cycle in wanted]
