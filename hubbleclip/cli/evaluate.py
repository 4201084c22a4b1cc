"""`hubbleclip evaluate`, `hubbleclip compare` and `hubbleclip classify`."""

from __future__ import annotations

import argparse
import json

MODEL_HELP = (
    "NAME=SPEC, repeatable; SPEC is a model spec (lit-mini, open_clip:ARCH@TAG, hf:ID, a saved model "
    "directory) or a training run directory (its export/ is used). The first is the reference for deltas."
)


def register(sub: argparse._SubParsersAction) -> None:
    from hubbleclip.config import add_config_arguments
    from hubbleclip.evaluation.config import EvalConfig

    for name, help_text in (
        ("evaluate", "retrieval (both ways) and zero-shot metrics of models on a dataset split"),
        ("compare", "evaluate two or more models side by side, with paired deltas (results.json + .md)"),
    ):
        parser = sub.add_parser(name, help=help_text, description=help_text)
        parser.add_argument("--model", action="append", default=None, metavar="NAME=SPEC", help=MODEL_HELP)
        add_config_arguments(parser, EvalConfig)
        parser.set_defaults(func=run_evaluate, min_models=2 if name == "compare" else 1)

    classify = sub.add_parser(
        "classify",
        help="rank classes (zero-shot) for one image",
        description="Print the best-matching classes of a class list for an image.",
    )
    classify.add_argument("image", help="image file (PNG, JPEG, ...)")
    classify.add_argument(
        "--model", default="lit-mini", help="model spec or run directory (default: lit-mini)"
    )
    classify.add_argument(
        "--classes",
        default="descriptions",
        help="class list: openngc, first, descriptions (default) or a text file, one per line",
    )
    classify.add_argument("--templates", default="default", help="prompt templates: 'default' or a text file")
    classify.add_argument("--top", type=int, default=5, help="how many classes to print (default 5)")
    classify.add_argument("--device", default="cpu", help="torch device")
    classify.add_argument("--json", action="store_true", help="print JSON")
    classify.set_defaults(func=run_classify)


def run_evaluate(args: argparse.Namespace) -> int:
    from hubbleclip.cli import UserError
    from hubbleclip.config import config_from_args
    from hubbleclip.evaluation import EvalConfig, run_evaluation, write_results
    from hubbleclip.evaluation.job import load_eval_set
    from hubbleclip.evaluation.report import render_summary
    from hubbleclip.evaluation.results import EvalResults
    from hubbleclip.runs import setup_run_dir

    cfg = config_from_args(args, EvalConfig, extra={"models": args.model} if args.model else None)
    if len(cfg.models) < args.min_models:
        raise UserError(
            f"compare needs at least {args.min_models} models, got {cfg.models}: "
            "pass --model base=SPEC --model tuned=RUN_DIR"
        )
    eval_set = load_eval_set(cfg)
    setup_run_dir(cfg.out, cfg, log_name="evaluate.log")
    results = run_evaluation(cfg, eval_set)
    json_path, md_path = write_results(results, cfg.out)
    print(render_summary(EvalResults.from_dict(results)))
    print(f"wrote {json_path} and {md_path}")
    return 0


def run_classify(args: argparse.Namespace) -> int:
    from hubbleclip.evaluation.classify import classify_image
    from hubbleclip.models import load_model

    model = load_model(args.model, device=args.device)
    ranked = classify_image(model, args.image, args.classes, args.templates, args.top)
    if args.json:
        print(json.dumps({"image": args.image, "model": args.model, "classes": ranked}, indent=2))
        return 0
    print(f"{args.image} ({args.model}, classes: {args.classes})")
    print(f"{'rank':>4}  {'prob':>6}  {'cosine':>6}  class")
    for row in ranked:
        print(f"{row['rank']:>4}  {row['probability']:6.3f}  {row['similarity']:6.3f}  {row['class']}")
    return 0
