"""``load_model(spec)``: one entry point for every model family."""

from __future__ import annotations

from pathlib import Path

from hubbleclip.errors import UserError
from hubbleclip.models.base import META_FILE, ClipModel
from hubbleclip.models.hf import build_hf
from hubbleclip.models.lit import LIT_SPECS, build_lit
from hubbleclip.models.openclip import build_open_clip
from hubbleclip.models.specs import SPEC_HELP

EXPORT_DIR = "export"  # where a training run writes its model


def resolve_export(spec: str | Path, marker: str = META_FILE) -> str:
    """A training run directory stands for its exported model: ``RUN`` -> ``RUN/export`` when
    ``RUN`` holds no model (no ``marker`` file) itself and its export does."""
    path = Path(spec)
    if path.is_dir() and not (path / marker).is_file() and (path / EXPORT_DIR / marker).is_file():
        return str(path / EXPORT_DIR)
    return str(spec)


def load_model(spec: str | Path, device: str = "cpu") -> ClipModel:
    """Build or load a model (see ``SPEC_HELP``; a run directory means its export), in eval mode."""
    spec = resolve_export(spec)
    if spec in LIT_SPECS:
        model = build_lit(spec)
    elif spec.startswith("open_clip:"):
        model = build_open_clip(spec)
    elif spec.startswith("hf:"):
        model = build_hf(spec)
    elif (Path(spec) / META_FILE).is_file():
        model = ClipModel.load(spec)
    elif Path(spec).exists():
        raise FileNotFoundError(
            f"model {spec}: no {META_FILE} there; expected a directory written by "
            f"ClipModel.save or a training run directory with {EXPORT_DIR}/ in it"
        )
    else:
        raise UserError(f"unknown model spec {spec!r}; expected {SPEC_HELP}")
    return model.to(device).eval()
