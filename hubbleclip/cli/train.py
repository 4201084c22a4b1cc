"""`hubbleclip train`: contrastive fine-tuning (same as `python training/train.py` /
`accelerate launch training/train.py`)."""

from __future__ import annotations

import argparse
import json
import os


def register(sub: argparse._SubParsersAction) -> None:
    from hubbleclip.config import add_config_arguments
    from hubbleclip.training.config import TrainConfig

    p = sub.add_parser(
        "train",
        help="fine-tune a CLIP-style model on image-text pairs",
        description="Contrastive fine-tuning under Accelerate. Run it with python, or with "
        "`accelerate launch --multi_gpu --num_processes N training/train.py` for several "
        "processes. Writes RUN_DIR/{config.yaml,metrics.jsonl,tensorboard,checkpoints,export}.",
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
