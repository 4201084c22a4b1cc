"""Builders for datasets other than the skyset, in its record format and splits: online archives
(HST proposals, SIMBAD bright objects), a downloaded Galaxy10 DECaLS file, and your own folder of
images with a CSV of captions.

``build("simbad", out_dir, config_path, ["max_objects=100"], overwrite=False)`` is what
``hubbleclip data build --source simbad`` runs.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from hubbleclip.archives.config import Galaxy10Config, HSTConfig, SimbadConfig
from hubbleclip.archives.interrupt import stop_on_ctrl_c
from hubbleclip.config import load_config
from hubbleclip.data.config import FolderConfig
from hubbleclip.errors import UserError

# source -> (module with a `build(cfg, out_dir, overwrite)` function, its config class)
SOURCES = {
    "hst": ("hubbleclip.archives.hst", HSTConfig),
    "simbad": ("hubbleclip.archives.simbad", SimbadConfig),
    "galaxy10": ("hubbleclip.archives.galaxy10", Galaxy10Config),
    "folder": ("hubbleclip.data.folder", FolderConfig),
}


def build(
    source: str,
    out_dir: Path,
    config_path: Path | None = None,
    overrides: list[str] | None = None,
    overwrite: bool = False,
) -> dict:
    """Build ``source`` into ``out_dir`` (a DatasetDict + build_report.json); returns the report."""
    if source not in SOURCES:
        raise UserError(f"unknown archive source {source!r}; expected one of {sorted(SOURCES)}")
    module_name, config_class = SOURCES[source]
    cfg = load_config(config_class, config_path, overrides or [])
    with stop_on_ctrl_c():
        return importlib.import_module(module_name).build(cfg, Path(out_dir), overwrite=overwrite)
