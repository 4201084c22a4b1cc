"""`hubbleclip index build` and `hubbleclip search "TEXT"` / `hubbleclip search --image FILE`."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    from hubbleclip.cli import add_access_argument
    from hubbleclip.config import add_config_arguments
    from hubbleclip.search.config import KindsConfig, SearchIndexConfig

    index = sub.add_parser("index", help="build the object retrieval index")
    isub = index.add_subparsers(dest="index_command", metavar="ACTION", required=True)
    build = isub.add_parser(
        "build",
        help="BM25 + CLIP index over every skyset object and named star",
        description="Group a skyset by object, add the named bright stars, and write BM25 "
        "indexes, CLIP embeddings and numeric features (memory-mapped on load).",
    )
    add_config_arguments(build, SearchIndexConfig)
    build.set_defaults(func=run_build)
    kinds = isub.add_parser(
        "kinds",
        help="score the search on generated queries of each kind (names, typos, positions, ...)",
        description="Generate designation, typo, coordinate, near, brightness and field queries from "
        "an index's corpus; score the search without and with its resolver stage (top-1, MAP@10, "
        "bootstrap intervals); write RUN_DIR/results.json (same as eval/query_kinds.py).",
    )
    add_config_arguments(kinds, KindsConfig)
    kinds.set_defaults(func=run_kinds)

    search = sub.add_parser(
        "search",
        help="find objects by text or by image",
        description="Rank every object of an index for a text query or an image; prints "
        "rank, names, type, RA/Dec, constellation, magnitude, score and image.",
    )
    search.add_argument(
        "text", nargs="?", default=None, help='what to look for, e.g. "where is the andromeda galaxy"'
    )
    search.add_argument("--image", default=None, metavar="FILE", help="search with an image instead of text")
    search.add_argument("--index", default="runs/index", help="index directory (default: runs/index)")
    search.add_argument(
        "--ranker",
        default=None,
        help="ranker directory (default: INDEX/ranker if present, else BM25 + CLIP fallback)",
    )
    search.add_argument("-k", type=int, default=10, help="number of results (default: 10)")
    search.add_argument(
        "--candidates", type=int, default=100, help="BM25 and CLIP top-N per source (default: 100)"
    )
    search.add_argument("--device", default="cpu")
    search.add_argument("--json", action="store_true", help="print JSON for scripts")
    add_access_argument(search)
    search.set_defaults(func=run_search)


def run_build(args: argparse.Namespace) -> int:
    from hubbleclip.config import config_from_args
    from hubbleclip.search.config import SearchIndexConfig
    from hubbleclip.search.index import SearchIndex, build_retrieval_index

    cfg = config_from_args(args, SearchIndexConfig)
    index = SearchIndex.load(build_retrieval_index(cfg))
    m = index.manifest
    print(
        f"wrote {cfg.out}: {m['n_objects']} objects ({m['n_with_image']} with images), "
        f"model {m['model_spec']}, "
        f"dataset fingerprint {m['dataset_fingerprint']}"
    )
    return 0


def run_kinds(args: argparse.Namespace) -> int:
    from hubbleclip.config import config_from_args
    from hubbleclip.search.config import KindsConfig
    from hubbleclip.search.kinds_eval import format_summary, run_kinds

    print(format_summary(run_kinds(config_from_args(args, KindsConfig))))
    return 0


def run_search(args: argparse.Namespace) -> int:
    from hubbleclip.access.policy import AccessPolicy
    from hubbleclip.cli import UserError, access_viewer
    from hubbleclip.search.searcher import Searcher, format_table, open_image

    if (args.text is None) == (args.image is None):
        raise UserError('give a text query ("andromeda galaxy") or --image FILE, not both or neither')
    if args.text is not None and not args.text.strip():
        raise UserError(
            'empty query: type a name ("andromeda galaxy") or a description ("bright planetary nebulae")'
        )
    if args.k < 1:
        raise UserError(f"-k must be at least 1, got {args.k}")
    image = open_image(args.image) if args.image else None
    searcher = Searcher.open(args.index, args.ranker, device=args.device, n_candidates=args.candidates)
    visible = AccessPolicy().visible(searcher.index.access, access_viewer(args))
    result = searcher.search(text=args.text, image=image, k=args.k, visible=visible)
    print(json.dumps(result.to_dict(), indent=2) if args.json else format_table(result))
    return 0
