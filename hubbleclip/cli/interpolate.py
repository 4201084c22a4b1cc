"""`hubbleclip interpolate`: WiSE-FT weight interpolation between a base and a fine-tuned model."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    from hubbleclip.config import add_config_arguments
    from hubbleclip.studies.config import InterpolateConfig

    p = sub.add_parser(
        "interpolate",
        help="WiSE-FT: exports at theta = (1 - alpha) * base + alpha * tuned, and their alpha curve",
        description="Write one model per alpha (OUT/alpha-0.50/, loadable like any export) mixing the "
        "weights of a base model and its fine-tuned version (Wortsman et al. 2022). With --evaluate, "
        "compare them (OUT/compare/) and write the alpha curve (OUT/alpha_curve.{json,md}).",
    )
    add_config_arguments(p, InterpolateConfig)
    p.set_defaults(func=run_interpolate)


def run_interpolate(args: argparse.Namespace) -> int:
    from hubbleclip.config import config_from_args
    from hubbleclip.studies.config import InterpolateConfig
    from hubbleclip.studies.interpolate import evaluate_alphas, render_alpha_curve, write_interpolations

    cfg = config_from_args(args, InterpolateConfig)
    manifest = write_interpolations(cfg)
    print(json.dumps(manifest, indent=2))
    if cfg.evaluate:
        print(render_alpha_curve(evaluate_alphas(cfg, manifest)))
    return 0
