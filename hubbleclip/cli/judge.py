"""`hubbleclip judge`: LLM-judged text→image relevance of CLIP models' top images."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    from hubbleclip.config import add_config_arguments
    from hubbleclip.judge.config import JudgeConfig

    judge = sub.add_parser(
        "judge",
        help="LLM-judged relevance of each model's top images for text queries",
        description="For each text query, take the top-k images of each CLIP model and ask an LLM "
        "(constrained to a yes/no JSON answer) whether each image's source text is relevant. "
        "Reports the fraction judged relevant per model with bootstrap intervals, and the agreement "
        "with the catalog-derived relevance. Judgements are cached and resumed like captions.",
    )
    add_config_arguments(judge, JudgeConfig)
    judge.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from hubbleclip.config import config_from_args
    from hubbleclip.judge.config import JudgeConfig
    from hubbleclip.judge.job import run_judge
    from hubbleclip.judge.report import render_lines

    cfg = config_from_args(args, JudgeConfig)
    results = run_judge(cfg)
    print("\n".join(render_lines(results)))
    print(f"wrote {cfg.out}/results.json and results.md")
    return 0
