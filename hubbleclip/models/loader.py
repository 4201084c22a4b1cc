"""``load_model(spec)``: one entry point for every model family."""

from __future__ import annotations

from pathlib import Path

from hubbleclip.errors import UserError
from hubbleclip.models.base import META_FILE, ClipModel
from hubbleclip.models.specs import SPEC_HELP


def load_model(spec: str | Path, device: str = "cpu") -> ClipModel:
    """Build or load a model (see ``SPEC_HELP``), in eval mode on ``device``."""
    from hubbleclip.models.hf import build_hf
    from hubbleclip.models.lit import build_lit
    from hubbleclip.models.openclip import build_open_clip

    spec = str(spec)
    if spec in ("lit-mini", "tiny-lit"):
        model = build_lit(spec)
    elif spec == "tiny-open_clip" or spec.startswith("open_clip:"):
        model = build_open_clip(spec)
    elif spec == "tiny-hf" or spec.startswith("hf:"):
        model = build_hf(spec)
    elif (Path(spec) / META_FILE).is_file():
        model = ClipModel.load(spec)
    elif Path(spec).exists():
        raise FileNotFoundError(
            f"model {spec}: no {META_FILE} there; expected a directory written by "
            "ClipModel.save (e.g. RUN_DIR/export)"
        )
    else:
        raise UserError(f"unknown model spec {spec!r}; expected {SPEC_HELP}")
    return model.to(device).eval()
