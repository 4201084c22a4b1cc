"""MAP@10 / NDCG@10 bars of random, BM25, CLIP-only and the learned ranker per query type.

python paper_figures/rerank.py runs/demo/retrieval/rerank/results.json --out fig/rerank
"""

import argparse
import json
from pathlib import Path

from hubbleclip.figures import rerank_bars

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", help="results.json written by eval/rerank.py")
    parser.add_argument("--out", default="rerank", help="output path without extension (PNG and PDF)")
    parser.add_argument("--split", default="test", help="query split: test (held out) or train")
    args = parser.parse_args()
    print(rerank_bars.draw(json.loads(Path(args.results).read_text()), args.out, split=args.split))
