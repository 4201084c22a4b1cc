"""WiSE-FT weight interpolation (Wortsman et al. 2022, "Robust fine-tuning of zero-shot models").

``theta(alpha) = (1 - alpha) * theta_base + alpha * theta_tuned`` for every floating-point tensor of
two models of the same architecture (integer buffers are the tuned model's); ``alpha = 0`` is the base model,
``1`` the fine-tuned one.  Each alpha is written as a model directory (``OUT/alpha-0.50/``, atomically;
a rerun writes only the missing ones) that every command loads like any export.  With ``evaluate``
the exports are compared side by side (``OUT/compare/results.{json,md}``) and the alpha curve, the
headline metrics against alpha, is written to ``OUT/alpha_curve.{json,md}``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from hubbleclip.errors import UserError
from hubbleclip.evaluation.report import ARROWS
from hubbleclip.io import atomic_write_json, atomic_write_text
from hubbleclip.metrics import Estimate, markdown_table
from hubbleclip.models import load_model
from hubbleclip.models.base import META_FILE
from hubbleclip.studies.config import InterpolateConfig

log = logging.getLogger(__name__)
MANIFEST = "interpolate.json"


def alpha_name(alpha: float) -> str:
    return f"alpha-{alpha:.2f}"


def interpolated_state(base: dict, tuned: dict, alpha: float) -> dict[str, torch.Tensor]:
    """``(1 - alpha) * base + alpha * tuned`` per floating-point tensor of two matching state dicts."""
    if set(base) != set(tuned):
        only = sorted(set(base) ^ set(tuned))
        raise UserError(
            f"interpolate: the models differ in their weights (e.g. {only[:3]}); same architecture?"
        )
    out = {}
    for key, b in base.items():
        t = tuned[key]
        if b.shape != t.shape:
            raise UserError(
                f"interpolate: {key} has shape {tuple(b.shape)} in base, {tuple(t.shape)} in tuned"
            )
        # integer tensors are counters (BatchNorm's num_batches_tracked) or ids: the tuned model's
        out[key] = torch.lerp(b.float(), t.float(), alpha).to(t.dtype) if b.is_floating_point() else t
    return out


def write_interpolations(cfg: InterpolateConfig) -> dict:
    """Write one export per alpha into ``cfg.out``; returns the manifest (also ``OUT/interpolate.json``)."""
    if not cfg.alpha or any(not 0 <= a <= 1 for a in cfg.alpha):
        raise UserError(f"interpolate: alpha must be values in [0, 1], got {cfg.alpha}")
    out = Path(cfg.out)
    base_sd = load_model(cfg.base).state_dict()
    model = load_model(cfg.tuned)
    tuned_sd = {k: v.clone() for k, v in model.state_dict().items()}
    exports = {}
    for alpha in cfg.alpha:
        path = out / alpha_name(alpha)
        exports[f"{alpha:.2f}"] = str(path)
        if (path / META_FILE).is_file():
            log.info("interpolate: %s exists, kept", path)
            continue
        model.load_state_dict(interpolated_state(base_sd, tuned_sd, alpha))
        model.save(path)
        log.info("interpolate: alpha %.2f -> %s", alpha, path)
    manifest = {"base": cfg.base, "tuned": cfg.tuned, "exports": exports}
    atomic_write_json(out / MANIFEST, manifest)
    return manifest


def alpha_curve(results: dict, percent: float = 10.0) -> list[dict]:
    """The headline metrics of an evaluation of the alpha exports (models named by alpha), per alpha:
    retrieval accuracy at ``percent``% and R@1 both ways over all queries, zero-shot top-1 per
    labelled set, each with its bootstrap interval (None where the cut-off is 0: too few candidates)."""
    metrics = (f"acc@{percent:g}%", "R@1")
    rows = []
    for name in results["models"]:
        if name == "random":
            continue
        row = {"alpha": float(name)}
        for direction, per_model in (results.get("retrieval") or {}).get("models", {}).get(name, {}).items():
            for metric in metrics:
                row[f"{ARROWS[direction]} {metric}, all"] = per_model["all"]["metrics"].get(metric)
        for set_name, zs in results.get("zero_shot", {}).items():
            row[f"zero-shot top1, {set_name}"] = zs["models"][name]["metrics"]["top1"]
        rows.append(row)
    return rows


def render_alpha_curve(rows: list[dict]) -> str:
    columns = [c for c in rows[0] if c != "alpha"]
    cells = [
        [
            f"{row['alpha']:.2f}",
            *("n/a" if row[c] is None else Estimate.from_dict(row[c]).format() for c in columns),
        ]
        for row in rows
    ]
    return markdown_table(["alpha", *columns], cells) + "\n"


def evaluate_alphas(cfg: InterpolateConfig, manifest: dict) -> list[dict]:
    """Compare the exports on ``cfg.eval_dataset``/``cfg.eval_split``; write and return the alpha curve."""
    from hubbleclip.config import load_config
    from hubbleclip.evaluation import EvalConfig, run_evaluation, write_results

    out = Path(cfg.out)
    eval_cfg = load_config(
        EvalConfig,
        None,
        {
            "dataset": cfg.eval_dataset,
            "split": cfg.eval_split,
            "models": [f"{a}={p}" for a, p in manifest["exports"].items()],
            "out": str(out / "compare"),
        },
    )
    results = run_evaluation(eval_cfg)
    write_results(results, eval_cfg.out)
    rows = alpha_curve(results)
    atomic_write_json(out / "alpha_curve.json", rows)
    atomic_write_text(out / "alpha_curve.md", render_alpha_curve(rows))
    return rows
