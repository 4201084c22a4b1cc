"""Fine-tune a CLIP-style model: the same job as `hubbleclip train`.

python training/train.py --config training/configs/lit-mini-skyset.yaml
accelerate launch --multi_gpu --num_processes 2 training/train.py --config training/configs/lit-mini-skyset.yaml
(--multi_gpu also on a CPU: it selects the multi-process launcher, gloo without GPUs)
"""  # noqa: E501 - copyable shell command

import sys

from hubbleclip.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
