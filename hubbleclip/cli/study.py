"""`hubbleclip study` (PAPERCLIP's ablation grid) and `hubbleclip crossval` (k-fold by object)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    from hubbleclip.config import add_config_arguments
    from hubbleclip.studies.config import CrossValConfig, StudyConfig

    help_text = (
        "train PAPERCLIP's ablation grid and evaluate it against the base (study.json, study.md, figure)"
    )
    parser = sub.add_parser("study", help=help_text, description=help_text)
    add_config_arguments(parser, StudyConfig)
    parser.set_defaults(func=run_study)
    help_text = "k-fold cross-validation by object of one source, same-source candidates (crossval.json/.md)"
    parser = sub.add_parser("crossval", help=help_text, description=help_text)
    add_config_arguments(parser, CrossValConfig)
    parser.set_defaults(func=run_crossval)


def run_study(args: argparse.Namespace) -> int:
    from hubbleclip.config import config_from_args
    from hubbleclip.evaluation.results import load_results
    from hubbleclip.figures.study import draw
    from hubbleclip.runs import setup_run_dir
    from hubbleclip.studies.config import StudyConfig
    from hubbleclip.studies.study import STUDY_MD, run_study

    cfg = config_from_args(args, StudyConfig)
    out = setup_run_dir(cfg.out, cfg)
    run_study(cfg)
    figure = draw(load_results(out / "eval"), out / "study")
    print(f"{out / STUDY_MD}\n" + "\n".join(str(p) for p in figure))
    return 0


def run_crossval(args: argparse.Namespace) -> int:
    from hubbleclip.config import config_from_args
    from hubbleclip.io import atomic_write_text
    from hubbleclip.runs import setup_run_dir
    from hubbleclip.studies.config import CrossValConfig
    from hubbleclip.studies.crossval import run_crossval
    from hubbleclip.studies.study_report import render_crossval

    cfg = config_from_args(args, CrossValConfig)
    out = setup_run_dir(cfg.out, cfg)
    print(atomic_write_text(out / "crossval.md", render_crossval(run_crossval(cfg))))
    return 0
