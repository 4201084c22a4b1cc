"""`hubbleclip demo`: the main job end to end (what `make demo` runs)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    from hubbleclip.config import add_config_arguments
    from hubbleclip.demo.config import STAGE_NAMES, DemoConfig

    demo = sub.add_parser(
        "demo",
        help="the main job end to end: data, captions, fine-tuning, evaluation, "
        "retrieval, similarity, figures",
        description=f"Stages, in order: {', '.join(STAGE_NAMES)}. Each is skipped when already done.",
    )
    demo.add_argument("--stages", default="", help="comma-separated stages to run (default: all)")
    demo.add_argument(
        "--overwrite",
        nargs="*",
        default=None,
        metavar="STAGE",
        help="redo these stages (no names: every selected stage)",
    )
    add_config_arguments(demo, DemoConfig)
    demo.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from hubbleclip.config import config_from_args
    from hubbleclip.demo import DemoConfig
    from hubbleclip.demo.pipeline import print_timings
    from hubbleclip.demo.stages import run_demo
    from hubbleclip.runs import setup_run_dir

    cfg = config_from_args(args, DemoConfig)
    setup_run_dir(cfg.out, cfg, log_name="demo.log")
    only = [s for s in args.stages.split(",") if s] or None
    overwrite = True if args.overwrite == [] else (args.overwrite or False)
    summary = run_demo(cfg, only=only, overwrite=overwrite)
    print_timings(summary)
    report = Path(cfg.out) / "REPORT.md"
    if report.is_file():
        print(f"report: {report}")
    return 0
