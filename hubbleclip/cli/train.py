"""`hubbleclip train`: contrastive fine-tuning (same as `python training/train.py` /
`accelerate launch training/train.py`); `hubbleclip publish`: a run's model card and Hub upload."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    from hubbleclip.config import add_config_arguments
    from hubbleclip.training.config import TrainConfig

    p = sub.add_parser(
        "train",
        help="fine-tune a CLIP-style model on image-text pairs",
        description="Contrastive fine-tuning under Accelerate. Run it with python, or with "
        "`accelerate launch --multi_gpu --num_processes N training/train.py` for several "
        "processes. Writes RUN_DIR/{config.yaml,metrics.jsonl,tensorboard,checkpoints,export}; "
        "export/README.md is the model card.",
    )
    add_config_arguments(p, TrainConfig)
    p.add_argument(
        "--model",
        dest="cfg__model.spec",
        default=None,
        metavar="SPEC",
        help="shorthand for --model.spec, e.g. open_clip:ViT-B-32@openai",
    )
    p.set_defaults(func=run_train)

    pub = sub.add_parser(
        "publish",
        help="rewrite a run's model card with an evaluation's numbers; upload export/ to the Hub",
        description="Regenerate RUN/export/README.md (the model card) from the run's files and, with "
        "--results, the metrics of an evaluation's results.json; with --push_to_hub, upload "
        "RUN/export to a Hugging Face Hub model repository.",
    )
    pub.add_argument("run", help="training run directory (hubbleclip train --out)")
    pub.add_argument(
        "--results",
        default=None,
        metavar="PATH",
        help="results.json (or its directory) of `hubbleclip compare/evaluate` that evaluated the run",
    )
    pub.add_argument(
        "--results_model",
        default=None,
        metavar="NAME",
        help="the run's name in results.json (default: the model loaded from the run's export)",
    )
    pub.add_argument("--push_to_hub", default=None, metavar="REPO", help="upload to this OWNER/NAME")
    pub.add_argument("--private", action="store_true", help="create the Hub repository private")
    pub.add_argument(
        "--license", default="other", help="Hub licence id of the weights (default: other, see the card)"
    )
    pub.set_defaults(func=run_publish)


def run_train(args: argparse.Namespace) -> int:
    import transformers

    from hubbleclip.config import config_from_args
    from hubbleclip.training import TrainConfig, train

    transformers.utils.logging.set_verbosity_error()  # weight-loading reports and progress bars
    transformers.utils.logging.disable_progress_bar()
    cfg = config_from_args(args, TrainConfig)
    result = train(cfg)
    if int(os.environ.get("RANK", "0")) == 0:  # one summary line, not one per process
        print(json.dumps({"out": cfg.out, **result}))
    return 0


def card_evaluation(results_path: str, run: Path, name: str | None):
    """The run's numbers in an evaluation's ``results.json`` as the card shows them."""
    from hubbleclip.errors import UserError
    from hubbleclip.evaluation.results import load_results
    from hubbleclip.models.loader import EXPORT_DIR
    from hubbleclip.training.model_card import CardBlock, CardEvaluation

    results = load_results(results_path)
    ours = {run.resolve(), (run / EXPORT_DIR).resolve()}
    if name is None:
        found = [n for n, m in results.models.items() if m.path and Path(m.path).resolve() in ours]
        if len(found) != 1:
            raise UserError(
                f"{results_path}: {'no' if not found else 'more than one'} model was loaded from {run}; "
                f"name it with --results_model (one of {', '.join(results.models)})"
            )
        name = found[0]
    if name not in results.models:
        raise UserError(f"{results_path}: no model {name!r} (models: {', '.join(results.models)})")
    boot = results.settings.bootstrap
    retrieval = results.retrieval.models[name] if results.retrieval else {}
    return CardEvaluation(
        results=str(results_path),
        model=name,
        dataset=results.dataset.path,
        split=results.dataset.split,
        text_column=results.dataset.text_column,
        bootstrap=f"{boot.samples} bootstrap resamples, {boot.confidence:.0%} percentile intervals",
        retrieval={
            direction: {
                s: CardBlock(b.n_queries, b.n_candidates, b.metrics, b.chance) for s, b in per.items()
            }
            for direction, per in retrieval.items()
        },
        zero_shot={
            s: CardBlock(zs.models[name].n_images, len(zs.models[name].classes), zs.models[name].metrics)
            for s, zs in (results.zero_shot or {}).items()
            if name in zs.models
        },
    )


def run_publish(args: argparse.Namespace) -> int:
    from hubbleclip.config import load_config
    from hubbleclip.models.loader import EXPORT_DIR
    from hubbleclip.training import TrainConfig
    from hubbleclip.training.hub import push_to_hub
    from hubbleclip.training.model_card import write_card

    run = Path(args.run)
    if not (run / "config.yaml").is_file() or not (run / EXPORT_DIR).is_dir():
        raise FileNotFoundError(f"{run}: not a finished training run (needs config.yaml and export/)")
    cfg = load_config(TrainConfig, run / "config.yaml")
    evaluation = card_evaluation(args.results, run, args.results_model) if args.results else None
    card = write_card(cfg, run, evaluation, repo=args.push_to_hub, license_id=args.license)
    out = {"card": str(card)}
    if args.push_to_hub:
        out["commit"] = push_to_hub(run / EXPORT_DIR, args.push_to_hub, private=args.private)
    print(json.dumps(out))
    return 0
