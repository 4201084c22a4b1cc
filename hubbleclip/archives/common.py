"""Plumbing shared by the archive builders: cache location, skip reports, saving the dataset."""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hubbleclip.archives.client import FetchError
from hubbleclip.archives.config import HttpConfig
from hubbleclip.data.build import save_skyset
from hubbleclip.errors import UserError
from hubbleclip.io import cache_root

log = logging.getLogger(__name__)


def cache_dir(http: HttpConfig, source: str) -> Path:
    return Path(http.cache_dir).expanduser() if http.cache_dir else cache_root("archives", source)


def image_path(root: Path, key: str) -> Path:
    """Where a processed image for ``key`` (e.g. a data URI) lives inside the cache."""
    digest = hashlib.sha256(key.encode()).hexdigest()
    return root / "images" / digest[:2] / f"{digest}.png"


@dataclass
class BuildReport:
    source: str
    started: float = field(default_factory=time.time)
    skipped: list[dict[str, str]] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)

    def skip(self, record: str, reason: str) -> None:
        log.warning("%s: skipped %s: %s", self.source, record, reason)
        self.skipped.append({"record": record, "reason": reason})

    def as_dict(self, http_stats: dict) -> dict[str, Any]:
        return {
            "source": self.source,
            "skipped": self.skipped,
            "skipped_count": len(self.skipped),
            **self.notes,
            "http": http_stats,
            "timings_s": {"fetch": round(time.time() - self.started, 2)},
        }


async def skip_on_error(coro, report: BuildReport, record: str, default=None):
    """Await ``coro``; a permanent error of one request skips that record (reported) instead of the build."""
    try:
        return await coro
    except FetchError as exc:
        report.skip(record, str(exc))
        return default


def constellations(ra_deg: list[float], dec_deg: list[float]) -> list[str]:
    from astropy import units as u
    from astropy.coordinates import SkyCoord

    if not ra_deg:
        return []
    return [str(c) for c in SkyCoord(ra_deg, dec_deg, unit=u.deg).get_constellation()]


def check_output(out_dir: Path, overwrite: bool) -> None:
    """Fail before any network traffic, not after an hour of it."""
    if Path(out_dir).exists() and not overwrite:
        raise FileExistsError(f"{out_dir} already exists (pass --overwrite to replace it)")


def save(rows: list[dict], out_dir: Path, report: dict, seed: int, overwrite: bool, config: Any) -> dict:
    if not rows:
        raise UserError(
            f"{report['source']}: no records to save ({report['skipped_count']} skipped; "
            "see the warnings above)"
        )
    started = time.time()
    report.update(save_skyset(rows, out_dir, report, seed=seed, overwrite=overwrite, config=config))
    report["timings_s"]["total"] = round(report["timings_s"]["fetch"] + time.time() - started, 2)
    return report
