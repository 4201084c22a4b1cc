"""What models know of everyday photos: scikit-image's photos against ImageNet's 1000 classes, and
six short descriptions against the photos (hubbleclip.evaluation.general_domain), e.g.

    python eval/general_domain.py lit-mini lit-mini@scratch runs/demo/train
"""

import argparse
import json

from hubbleclip.evaluation.general_domain import general_domain_check
from hubbleclip.models.feature_cache import feature_cache
from hubbleclip.models.loader import load_model

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="model specs or run directories")
    args = parser.parse_args()
    cache = feature_cache()
    print(
        json.dumps(
            {spec: general_domain_check(load_model(spec), cache).to_dict() for spec in args.models}, indent=1
        )
    )
