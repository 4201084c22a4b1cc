"""Builders for datasets from online archives (HST proposals, SIMBAD bright objects) and from a
downloaded Galaxy10 DECaLS file, in the same record format and splits as the skyset.

``build("simbad", out_dir, config_path, ["max_objects=100"], force=False)`` is what
``hubbleclip data build --source simbad`` runs.
"""

from __future__ import annotations

import importlib
from pathlib import Path

SOURCES = {"hst": "hubbleclip.archives.hst", "simbad": "hubbleclip.archives.simbad",
           "galaxy10": "hubbleclip.archives.galaxy10"}


def build(source: str, out_dir: Path, config_path: Path | None = None, overrides: list[str] | None = None,
          force: bool = False) -> dict:
    """Build ``source`` into ``out_dir`` (a DatasetDict + build_report.json); returns the report."""
    from hubbleclip.config import load_config

    if source not in SOURCES:
        raise ValueError(f"unknown archive source {source!r}; expected one of {sorted(SOURCES)}")
    module = importlib.import_module(SOURCES[source])
    cfg = load_config(module.Config, config_path, overrides or [])
    return module.build(cfg, Path(out_dir), force=force)
