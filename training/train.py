"""Fine-tune a CLIP-style model: the same job as `hubbleclip train`.

    python training/train.py --config training/configs/lit-mini-skyset.yaml
    accelerate launch --num_processes 2 --cpu training/train.py --config training/configs/lit-mini-skyset.yaml
"""

import sys

from hubbleclip.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
