"""`hubbleclip index build|kinds|check` and `hubbleclip search "TEXT"` / `hubbleclip search --image FILE`."""

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
    check = isub.add_parser(
        "check",
        help="verify a copied retrieval or similarity index (files, digests, shapes, model)",
        description="Check an index directory against its manifest: format version, every file's size "
        "and sha256, array shapes, the image previews and the model's weights digest. Prints one line "
        "per problem (exit 1), or one line saying it is fine.",
    )
    check.add_argument("dir", metavar="DIR", help="retrieval or similarity index directory")
    check.add_argument(
        "--model", default="", help="check this model against the index's digest instead of its own"
    )
    check.set_defaults(func=run_check)

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
    search.add_argument(
        "--model",
        default=None,
        help="the index's model from elsewhere (checked against its digest; default: the index's own)",
    )
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
        f"model {index.model_spec}, "
        f"dataset fingerprint {m['dataset_fingerprint']}"
    )
    return 0


def run_check(args: argparse.Namespace) -> int:
    from pathlib import Path

    from hubbleclip.cli import UserError
    from hubbleclip.search import index as retrieval
    from hubbleclip.similarity import index as similarity

    path = Path(args.dir)
    if (path / retrieval.MANIFEST).is_file():
        kind, problems = "retrieval", retrieval.check_index(path, args.model)
    elif (path / similarity.META_FILE).is_file():
        kind, problems = "similarity", similarity.check_index(path, args.model)
    else:
        raise UserError(
            f"{path}: not an index (no {retrieval.MANIFEST} of a retrieval index, no "
            f"{similarity.META_FILE} of a similarity index)"
        )
    for line in problems:
        print(line)
    if not problems:
        print(f"{path}: {kind} index ok (files, digests, shapes, previews and model)")
    return 1 if problems else 0


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
    searcher = Searcher.open(
        args.index, args.ranker, device=args.device, n_candidates=args.candidates, model=args.model
    )
    visible = AccessPolicy().visible(searcher.index.access, access_viewer(args))
    result = searcher.search(text=args.text, image=image, k=args.k, visible=visible)
    print(json.dumps(result.to_dict(), indent=2) if args.json else format_table(result))
    return 0
